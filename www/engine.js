// Loads the wasm core (pkg/, built by scripts/build-wasm.py) once per
// worker. The wasm bytes travel inside a script (the page's CSP forbids
// fetching them); a failed start is retried on the next call.

let ready = null; // cached promise of the module's exports

export function loadEngine() {
  if (!ready) {
    ready = (async () => {
      const mod = await import('./pkg/salvage.js');
      const { wasmBase64 } = await import('./pkg/salvage_bg_wasm.js');
      const bytes = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
      await mod.default({ module_or_path: bytes });
      return mod;
    })();
    ready.catch(() => { ready = null; });
  }
  return ready;
}
