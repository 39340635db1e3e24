/**
 * The optional C kernel library (edgetune_native.c, edgetune_fused.c): where its build lives, how it is compiled, and its FFI
 * binding. The library file name carries a hash of the C source, the compiler flags and this CPU's flags, so
 * a stale build or one made on another CPU (`-march=native`) is never loaded: it is simply rebuilt (or, when
 * gcc is absent, the TypeScript side keeps the stock wasm kernels for this work).
 * Build it ahead of time with `deno run -A shared/core/backend/native/build.ts` (what .ci/run and Dockerfiles
 * call); `installNativeKernels({ build: true })` also builds it on first use when gcc is available.
 */

const SOURCES = ["edgetune_native.h", "edgetune_native.c", "edgetune_fused.c"].map((f) =>
  new URL(`./${f}`, import.meta.url)
);
const DEFAULT_OUT_DIR = new URL("../../../../.out/native/", import.meta.url);
export const COMPILER_FLAGS = [
  "-O3",
  "-march=native",
  "-fno-math-errno",
  "-fno-trapping-math",
  "-shared",
  "-fPIC",
  "-pthread",
];

const NATIVE_SYMBOLS = {
  et_transpose_f32: { parameters: ["pointer", "pointer", "buffer", "buffer", "i32", "i32"], result: "i32" },
  et_sum_f32: { parameters: ["pointer", "pointer", "i64", "i64", "i64", "f32", "i32"], result: "void" },
  et_binary_f32: {
    parameters: ["i32", "pointer", "buffer", "pointer", "buffer", "pointer", "i32", "i32"],
    result: "i32",
  },
  et_unary_f32: { parameters: ["i32", "pointer", "pointer", "i64", "i32"], result: "i32" },
  et_blas_init: { parameters: ["buffer"], result: "i32" },
  et_sgemm_batch: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "pointer",
      "buffer",
      "pointer",
      "buffer",
      "pointer",
      "i32",
      "f32",
      "i32",
    ],
    result: "i32",
  },
  et_dropout_f32: {
    parameters: ["pointer", "pointer", "pointer", "i64", "f32", "u64", "i32"],
    result: "void",
  },
  et_gelu_f32: { parameters: ["pointer", "pointer", "i64", "i32"], result: "void" },
  et_gelu_grad_f32: { parameters: ["pointer", "pointer", "pointer", "i64", "i32"], result: "void" },
  et_layer_norm_f32: {
    parameters: ["pointer", "pointer", "pointer", "pointer", "i64", "i64", "f32", "i32"],
    result: "void",
  },
  et_layer_norm_grad_f32: {
    parameters: [
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "i64",
      "i64",
      "f32",
      "i32",
    ],
    result: "i32",
  },
  et_erf_grad_f32: { parameters: ["pointer", "pointer", "pointer", "i64", "i32"], result: "void" },
  et_softmax_grad_f32: { parameters: ["pointer", "pointer", "pointer", "i64", "i64", "i32"], result: "void" },
  et_gather_rows_f32: { parameters: ["pointer", "pointer", "pointer", "i64", "i64", "i64"], result: "void" },
  et_segment_sum_rows_f32: {
    parameters: ["pointer", "pointer", "pointer", "i64", "i64", "i64"],
    result: "void",
  },
} as const;

export type NativeLibrary = Deno.DynamicLibrary<typeof NATIVE_SYMBOLS>;

async function cpuFingerprint(): Promise<string> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    const lines = info.split("\n");
    return [lines.find((l) => l.startsWith("model name")), lines.find((l) => l.startsWith("flags"))].join(
      "|",
    );
  } catch {
    return `${Deno.build.os}-${Deno.build.arch}`;
  }
}

/** Path the library for the current source, flags and CPU has (whether or not it is built yet). */
export async function nativeLibraryPath(outDir: URL | string = DEFAULT_OUT_DIR): Promise<string> {
  const source = (await Promise.all(SOURCES.map((url) => Deno.readTextFile(url)))).join("\n");
  const bytes = new TextEncoder().encode(source + COMPILER_FLAGS.join(" ") + (await cpuFingerprint()));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hash = Array.from(digest.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const dir = typeof outDir === "string" ? outDir : outDir.pathname;
  return `${dir.replace(/\/$/, "")}/libedgetune_native-${hash}.so`;
}

/** Compiles the C kernels with gcc (or $CC) unless the current build exists; returns the library path. */
export async function buildNativeLibrary(
  outDir: URL | string = DEFAULT_OUT_DIR,
  compiler = "gcc",
): Promise<string> {
  const target = await nativeLibraryPath(outDir);
  try {
    await Deno.stat(target);
    return target;
  } catch { /* not built yet */ }
  await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
  const temporary = `${target}.${Deno.pid}.tmp`;
  const { code, stderr } = await new Deno.Command(compiler, {
    args: [
      ...COMPILER_FLAGS,
      "-o",
      temporary,
      ...SOURCES.filter((url) => url.pathname.endsWith(".c")).map((url) => url.pathname),
      "-lm",
      "-ldl",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`${compiler} failed (${code}): ${new TextDecoder().decode(stderr).slice(0, 2000)}`);
  }
  await Deno.rename(temporary, target);
  // builds of older sources or other CPUs are never loaded again: remove them
  const dir = target.slice(0, target.lastIndexOf("/"));
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (/^libedgetune_native-[0-9a-f]+\.so$/.test(entry.name) && path !== target) {
      await Deno.remove(path).catch(() => {});
    }
  }
  return target;
}

/** Opens a built C kernel library. */
export function openNativeLibrary(path: string): NativeLibrary {
  return Deno.dlopen(path, NATIVE_SYMBOLS);
}
