#!/usr/bin/env node
import('../out/cli/index.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('out/cli')) {
    console.error('comfy-balancer: the CLI is not built yet. Run `npm run build:cli` first.')
    process.exit(2)
  }
  throw err
})
