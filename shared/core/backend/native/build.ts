/**
 * Command-line entry that compiles the optional C kernels (edgetune_native.c) for this machine into
 * .out/native/: `deno run -A shared/core/backend/native/build.ts`. Prints the library path. Exits non-zero
 * when gcc is missing or fails; edgetune then runs on the plain wasm kernels (plus OpenBLAS when present).
 */
import { buildNativeLibrary } from "./native_lib.ts";

if (import.meta.main) {
  try {
    console.log(await buildNativeLibrary(undefined, Deno.env.get("CC") ?? "gcc"));
  } catch (error) {
    console.error(`native kernels not built: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
