/** `import text from "x.proto" with { type: "text" }`: Bun embeds the file's text in the bundle. */
declare module "*.proto" {
  const text: string;
  export default text;
}
