// Preloaded (--import) into the Node servers under test, started with
// --expose-gc: SIGUSR2 collects garbage twice, so that an RSS reading right
// after it measures live memory, not what the collector has not reached yet.
const gc = (globalThis as { gc?: () => void }).gc
process.on('SIGUSR2', () => {
  gc?.()
  gc?.()
})
