// Mock of the generated module that carries the .wasm as base64.
export const wasmBase64 = btoa('\0asm');
