// Interop client built on @grpc/grpc-js + @grpc/proto-loader (run under Node, not Bun).
// Usage: node grpc-js-client.mjs <unix:///path> <proto dir>
// Calls every RPC and the health service, then misbehaves in the ways a real client can; prints
// one JSON object with what each call returned: {ok: reply} or {code, details}.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [target, protoDir] = process.argv.slice(2);
const definition = protoLoader.loadSync(["tacacsrs_agent.proto", "grpc/health/v1/health.proto"], {
  includeDirs: [protoDir],
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(definition);
const options = { "grpc.max_send_message_length": 16 * 1024 * 1024 };
const agent = new loaded.tacacsrs.agent.v1.TacacsAgent(target, grpc.credentials.createInsecure(), options);
const health = new loaded.grpc.health.v1.Health(target, grpc.credentials.createInsecure());

const deadline = (ms) => ({ deadline: Date.now() + ms });
function call(client, method, request, ms = 3000) {
  return new Promise((resolve) => {
    client[method](request, deadline(ms), (error, reply) => resolve(error ? { code: grpc.status[error.code], details: error.details } : { ok: reply }));
  });
}

const results = {};
results.accounting = await call(agent, "Accounting", {
  user: "admin", port: "tty0", remoteAddress: "10.0.0.1", command: "show", commandArguments: ["version"], recordType: "ACCOUNTING_RECORD_TYPE_START", taskId: "7",
});
results.authorization = await call(agent, "Authorization", {
  user: "admin", port: "tty0", remoteAddress: "10.0.0.1", privilegeLevel: 15, authenticationContext: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP",
  args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: true }],
});
results.authorizationDenied = await call(agent, "Authorization", {
  user: "deny", authenticationContext: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP", args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "reload", mandatory: true }],
});
results.pap = await call(agent, "AuthenticatePap", { user: "admin", password: Buffer.from("pw"), port: "tty0", remoteAddress: "10.0.0.1", privilegeLevel: 1 });
results.status = await call(agent, "Status", {});
results.upstreamDown = await call(agent, "Accounting", { user: "down", command: "show" });
results.healthCheck = await call(health, "Check", {});
results.healthUnknown = await call(health, "Check", { service: "nope" });
results.watch = await new Promise((resolve) => {
  const stream = health.Watch({ service: "" });
  stream.on("data", (message) => {
    resolve({ ok: message });
    stream.cancel();
  });
  stream.on("error", () => {});
});

// Misbehaviour; after each one a normal call must still succeed.
const normal = () => call(agent, "Accounting", { user: "admin", command: "show" });
results.invalidArgument = await call(agent, "AuthenticatePap", { user: "admin", privilegeLevel: 99 });
results.afterInvalidArgument = await normal();
const Unknown = grpc.makeGenericClientConstructor({
  Nope: { path: "/tacacsrs.agent.v1.TacacsAgent/Nope", requestStream: false, responseStream: false, requestSerialize: (b) => b, responseDeserialize: (b) => b },
});
results.unknownMethod = await call(new Unknown(target, grpc.credentials.createInsecure()), "Nope", Buffer.from([]));
results.afterUnknownMethod = await normal();
const Raw = grpc.makeGenericClientConstructor({
  Accounting: { path: "/tacacsrs.agent.v1.TacacsAgent/Accounting", requestStream: false, responseStream: false, requestSerialize: (b) => b, responseDeserialize: (b) => b },
});
const raw = new Raw(target, grpc.credentials.createInsecure(), options);
results.badProtobuf = await call(raw, "Accounting", Buffer.from([0x0a, 0xff, 0xff]));
results.afterBadProtobuf = await normal();
results.oversized = await call(raw, "Accounting", Buffer.alloc(8 * 1024 * 1024, 0x41));
results.afterOversized = await normal();
results.deadline = await call(agent, "Accounting", { user: "hang", command: "show" }, 200);
results.afterDeadline = await normal();
results.cancelled = await new Promise((resolve) => {
  const pending = agent.Accounting({ user: "hang", command: "show" }, deadline(5000), (error) => resolve({ code: grpc.status[error?.code] }));
  setTimeout(() => pending.cancel(), 100);
});
results.afterCancel = await normal();
console.log(JSON.stringify(results));
agent.close();
health.close();
raw.close();
