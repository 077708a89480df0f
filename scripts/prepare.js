// `npm install` of a git checkout runs `prepare`, which builds dist/. A clone
// installed with `npm ci --omit=dev` has no TypeScript: skip the build there
// with a notice instead of failing the install.
import { execSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

try {
  require.resolve('typescript')
} catch {
  console.log('fastify-pubsub: typescript is not installed, skipping the build (dist/ is used as it is)')
  process.exit(0)
}

execSync('npm run build', { stdio: 'inherit' })
