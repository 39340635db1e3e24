/**
 * Zero-copy access to tensors that live on the tfjs wasm heap, for native kernels called through Deno FFI.
 * The wasm backend keeps every tensor inside one WebAssembly memory; a tensor's bytes start at
 * `dataIdMap.get(dataId).memoryOffset`. The memory can grow on any allocation and replace its ArrayBuffer,
 * so `HeapPointers.of` re-reads the base address whenever the buffer changed: callers must allocate every
 * output (`backend.makeOutput`) first and take pointers afterwards.
 */

/** The parts of the tfjs wasm backend the native kernels rely on (internal, stable across tfjs 4.x). */
export interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number; shape: number[]; dtype: string } | undefined };
  makeOutput(shape: number[], dtype: string): TensorInfoLike;
  incRef(dataId: object): void;
}

/** The minimal tensor description kernels receive and return. */
export interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** Computes native pointers to tensors on the wasm heap, caching the heap base per ArrayBuffer. */
export class HeapPointers {
  #buffer: ArrayBufferLike | null = null;
  #base: Deno.PointerValue = null;

  constructor(private readonly backend: WasmBackendInternals) {}

  /** Native pointer to the first byte of a tensor's data (valid until the next wasm allocation). */
  of(tensor: TensorInfoLike): Deno.PointerObject {
    const heap = this.backend.wasm.HEAPU8;
    if (heap.buffer !== this.#buffer) {
      this.#buffer = heap.buffer;
      this.#base = Deno.UnsafePointer.of(heap as Uint8Array<ArrayBuffer>);
    }
    const data = this.backend.dataIdMap.get(tensor.dataId);
    if (data === undefined) throw new Error("native kernel: tensor data is not on the wasm heap");
    const pointer = Deno.UnsafePointer.offset(this.#base as Deno.PointerObject, data.memoryOffset);
    if (pointer === null) throw new Error("native kernel: null heap pointer");
    return pointer;
  }
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
