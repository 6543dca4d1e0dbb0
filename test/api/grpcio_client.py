"""Interop client built on Python grpcio (Debian python3-grpcio) with stubs generated at test time.

Usage: python3 grpcio_client.py <stub dir> <unix:///path>
Calls every RPC and the health service, then misbehaves; prints one JSON object of results.
"""
import json
import sys
import time

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
import tacacsrs_agent_pb2 as pb  # noqa: E402
import tacacsrs_agent_pb2_grpc as pb_grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

target = sys.argv[2]
channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)])
agent = pb_grpc.TacacsAgentStub(channel)
health = health_pb2_grpc.HealthStub(channel)


def call(method, request, timeout=3.0):
    try:
        reply = method(request, timeout=timeout)
        return {"ok": json_format.MessageToDict(reply, preserving_proto_field_name=True)}
    except grpc.RpcError as error:
        return {"code": error.code().name, "details": error.details()}


results = {}
results["accounting"] = call(agent.Accounting, pb.AccountingRequest(user="admin", port="tty0", remote_address="10.0.0.1", command="show", command_arguments=["version"]))
results["authorization"] = call(agent.Authorization, pb.AuthorizationRequest(
    user="admin", privilege_level=15, authentication_context=pb.AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_ASCII,
    args=[pb.AuthorizationArg(name="service", value="shell", mandatory=True), pb.AuthorizationArg(name="cmd", value="show", mandatory=True)]))
results["authorizationDenied"] = call(agent.Authorization, pb.AuthorizationRequest(
    user="deny", authentication_context=pb.AUTHORIZATION_AUTHENTICATION_CONTEXT_UNAUTHENTICATED,
    args=[pb.AuthorizationArg(name="service", value="shell", mandatory=True), pb.AuthorizationArg(name="cmd", value="reload", mandatory=True)]))
results["pap"] = call(agent.AuthenticatePap, pb.PapAuthenticationRequest(user="admin", password=b"pw", privilege_level=1))
results["status"] = call(agent.Status, pb.StatusRequest())
results["upstreamDown"] = call(agent.Accounting, pb.AccountingRequest(user="down", command="show"))
results["healthCheck"] = call(health.Check, health_pb2.HealthCheckRequest())
results["healthUnknown"] = call(health.Check, health_pb2.HealthCheckRequest(service="nope"))
watch = health.Watch(health_pb2.HealthCheckRequest())
results["watch"] = {"ok": json_format.MessageToDict(next(watch))}
watch.cancel()


def normal():
    return call(agent.Accounting, pb.AccountingRequest(user="admin", command="show"))


results["invalidArgument"] = call(agent.AuthenticatePap, pb.PapAuthenticationRequest(user="admin", privilege_level=99))
results["afterInvalidArgument"] = normal()
results["unknownMethod"] = call(channel.unary_unary("/tacacsrs.agent.v1.TacacsAgent/Nope"), b"")
results["afterUnknownMethod"] = normal()
raw = channel.unary_unary("/tacacsrs.agent.v1.TacacsAgent/Accounting")
try:
    raw(b"\x0a\xff\xff", timeout=3.0)
    results["badProtobuf"] = {"ok": {}}
except grpc.RpcError as error:
    results["badProtobuf"] = {"code": error.code().name, "details": error.details()}
results["afterBadProtobuf"] = normal()
try:
    raw(b"A" * (8 * 1024 * 1024), timeout=3.0)
    results["oversized"] = {"ok": {}}
except grpc.RpcError as error:
    results["oversized"] = {"code": error.code().name, "details": error.details()}
results["afterOversized"] = normal()
results["deadline"] = call(agent.Accounting, pb.AccountingRequest(user="hang", command="show"), timeout=0.2)
results["afterDeadline"] = normal()
future = agent.Accounting.future(pb.AccountingRequest(user="hang", command="show"), timeout=5.0)
time.sleep(0.1)
future.cancel()
results["cancelled"] = {"code": "CANCELLED" if future.cancelled() else "NOT_CANCELLED"}
results["afterCancel"] = normal()
channel.close()
print(json.dumps(results))
