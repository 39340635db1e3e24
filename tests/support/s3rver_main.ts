/**
 * Runs an s3rver (in-memory-ish S3 on a temp directory) as a child process for the distributed platform
 * tests: `deno run -A tests/support/s3rver_main.ts <port> <directory>`. Prints `S3RVER_READY` once listening.
 */
import S3rver from "s3rver";

const [port, directory] = Deno.args;
if (!port || !directory) {
  console.error("usage: s3rver_main.ts <port> <directory>");
  Deno.exit(2);
}
const server = new S3rver({
  address: "127.0.0.1",
  port: Number(port),
  directory,
  silent: true,
  allowMismatchedSignatures: true,
});
await server.run();
console.log("S3RVER_READY");
