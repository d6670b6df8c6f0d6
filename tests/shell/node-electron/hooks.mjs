// Module resolution hook: 'electron' is the stub.
const STUB = new URL('./electron.mjs', import.meta.url).href

export async function resolve(specifier, context, next) {
  if (specifier === 'electron') return { url: STUB, shortCircuit: true }
  return next(specifier, context)
}
