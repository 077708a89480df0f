// The web console: the whole protocol from one page, through the client SDK.
// Every URL is relative to the page, so it works under any mount prefix.
import { PubsubClient, type PubsubMessage, type Subscription } from '../client/index.js'
import { byId, element } from './dom.js'
import { MessageLog } from './message-log.js'

const LOG_LIMIT = 500
const TOPICS_REFRESH_MS = 5000

byId('script-missing').remove()

// A token (auth on) lives in the fragment, which never reaches a server log.
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined
const tokenInput = byId<HTMLInputElement>('token')
tokenInput.value = token ?? ''
byId<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
  event.preventDefault()
  location.hash = tokenInput.value === '' ? '' : `token=${encodeURIComponent(tokenInput.value)}`
  location.reload()
})
const authorization: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }

const wsUrl = new URL('ws', location.href)
wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
wsUrl.hash = ''
const client = new PubsubClient({ url: wsUrl.href, token })
const log = new MessageLog(LOG_LIMIT)
const subscriptions = new Map<string, Subscription>()

// Connection

const state = byId('state')
function showState (name: string, text: string): void {
  state.dataset.state = name
  state.textContent = text
}
client.on('welcome', ({ clientId }) => {
  showState('open', 'connected')
  byId('client-id').textContent = clientId
  byId('client-line').hidden = false
  log.add({ kind: 'system', title: 'welcome', details: [`connected to ${wsUrl.href} as ${clientId}`] })
  void refreshTopics()
})
client.on('close', ({ code, reason }) => {
  byId('client-line').hidden = true
  log.add({ kind: 'system', title: 'closed', details: [`code ${code}${reason === '' ? '' : `: ${reason}`}`] })
})
client.on('reconnecting', ({ attempt, delay }) => {
  showState('reconnecting', `reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${attempt})`)
})
client.on('recovery', ({ topic, recovered, reason }) => {
  if (recovered) return
  const detail = reason === 'pattern'
    ? 'resubscribed; a pattern is not replayed, so what its topics published while away is missing'
    : 'resubscribed; messages published while away may be missing'
  log.add({ kind: 'system', title: topic, details: [detail] })
})
client.on('error', (error) => {
  log.add({ kind: 'fault', title: error.code, details: [error.message] })
})

// A browser's WebSocket sees a refused upgrade (401) only as 1006, like a
// server that is down. So after a failed attempt the page asks the server:
// the same URL over plain HTTP, with the same credentials, goes through the
// same admission hook and answers 401 when a token is the problem. Guessing
// from a count of failures would tell a dead server from a locked one wrongly.
const tokenHint = byId('token-hint')
let tokenRefused = false
let welcomed = false
client.on('welcome', () => { welcomed = true })
client.on('close', () => {
  if (!welcomed) void probeForToken()
  welcomed = false
})
async function probeForToken (): Promise<void> {
  let response: Response
  try {
    response = await fetch(wsUrl.href.replace(/^ws/, 'http'), { headers: authorization })
  } catch {
    return // Unreachable: the client keeps trying, as it should.
  }
  if (response.status !== 401) return
  const { message } = await response.json().catch(() => ({})) as { message?: string }
  // Retrying cannot help until the user gives a token: stop until they do (the form reloads the page).
  tokenRefused = true
  void client.close()
  showState('token', 'token needed')
  tokenHint.textContent = token === undefined
    ? 'This server needs a token.'
    : `This server refused the token${message === undefined ? '' : `: ${message}`}.`
  tokenInput.setAttribute('aria-invalid', 'true')
  tokenInput.focus()
}

showState('connecting', 'connecting…')
client.connect().catch(() => { if (!tokenRefused) showState('closed', 'closed') })

// Subscriptions

const subscribeForm = byId<HTMLFormElement>('subscribe-form')
const subscribeTopic = byId<HTMLInputElement>('subscribe-topic')
const subscribeError = byId('subscribe-error')

function onMessage (message: PubsubMessage): void {
  const details = [`#${message.seq}`, new Date(message.ts).toLocaleTimeString()]
  if (message.subscription !== undefined) details.push(`via ${message.subscription}`)
  // A conflating namespace's latest value after this page fell behind: say what it did not get.
  const attributes: Record<string, string> = { 'data-topic': message.topic, 'data-seq': String(message.seq) }
  if (message.skipped !== undefined) {
    details.push(`skipped ${message.skipped}`)
    attributes['data-skipped'] = String(message.skipped)
  }
  log.add({ kind: 'message', title: message.topic, details, body: JSON.stringify(message.data, null, 2), attributes })
}

function renderSubscriptions (): void {
  const list = byId('subscriptions')
  list.replaceChildren(...[...subscriptions.keys()].sort().map((topic) => {
    const item = element('li', '', { 'data-topic': topic, 'data-state': 'pending' })
    const unsubscribe = element('button', 'Unsubscribe', { type: 'button', 'aria-label': `Unsubscribe from ${topic}` })
    unsubscribe.addEventListener('click', () => { void unsubscribeFrom(topic) })
    item.append(element('code', topic), unsubscribe)
    subscriptions.get(topic)?.ready.then(() => { item.dataset.state = 'active' }, () => {})
    return item
  }))
  byId('no-subscriptions').hidden = subscriptions.size > 0
}

async function unsubscribeFrom (topic: string): Promise<void> {
  const subscription = subscriptions.get(topic)
  subscriptions.delete(topic)
  renderSubscriptions()
  subscribeTopic.focus()
  await subscription?.()
}

subscribeForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const topic = subscribeTopic.value.trim()
  subscribeError.textContent = ''
  if (subscriptions.has(topic)) return
  const subscription = client.subscribe(topic, onMessage)
  subscriptions.set(topic, subscription)
  subscription.ready.then(() => { void refreshTopics() }, (error: Error) => {
    if (subscriptions.get(topic) !== subscription) return
    subscriptions.delete(topic)
    subscribeError.textContent = `Cannot subscribe to ${topic}: ${error.message}`
    renderSubscriptions()
  })
  renderSubscriptions()
})

// Publishing

const publishForm = byId<HTMLFormElement>('publish-form')
const publishTopic = byId<HTMLInputElement>('publish-topic')
const publishData = byId<HTMLTextAreaElement>('publish-data')
const publishError = byId('publish-error')
const publishResult = byId('publish-result')

function showPublishError (text: string): void {
  publishError.textContent = text
  publishData.setAttribute('aria-invalid', String(text !== ''))
}

publishForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const topic = publishTopic.value.trim()
  const mode = new FormData(publishForm).get('mode')
  let message: unknown = publishData.value
  if (mode === 'json') {
    try {
      message = JSON.parse(publishData.value)
    } catch (error) {
      // Nothing is sent: the server would take it as a string, not what was meant.
      showPublishError(`Not valid JSON: ${(error as Error).message}`)
      publishData.focus()
      return
    }
  }
  showPublishError('')
  publishResult.textContent = 'publishing…'
  client.publish(topic, message).then((ack) => {
    publishResult.textContent = `published to ${ack.topic} as #${ack.seq}`
    void refreshTopics()
  }, (error: Error & { code?: string }) => {
    publishResult.textContent = ''
    showPublishError(`${error.code ?? 'ERROR'}: ${error.message}`)
  })
})
publishData.addEventListener('input', () => { if (publishError.textContent !== '') showPublishError('') })

// Topics

const topicsBody = byId('topics').querySelector('tbody') as HTMLTableSectionElement
interface TopicsPage {
  topics: Array<{ topic: string, subscribers: number, seq: number }>
  patterns: Array<{ pattern: string, subscribers: number }>
}

function topicRow (name: string, subscribers: number, seq: string): HTMLTableRowElement {
  const row = document.createElement('tr')
  row.dataset.topic = name
  const pick = element('button', name, { type: 'button', title: 'Use this topic in the forms' })
  pick.addEventListener('click', () => {
    subscribeTopic.value = name
    if (!name.includes('*') && !name.includes('>')) publishTopic.value = name
    subscribeTopic.focus()
  })
  const nameCell = document.createElement('td')
  nameCell.append(pick)
  row.append(nameCell, element('td', String(subscribers), { class: 'num' }), element('td', seq, { class: 'num' }))
  return row
}

function noteRow (text: string, className: string): HTMLTableRowElement {
  const row = document.createElement('tr')
  row.append(element('td', text, { colspan: '3', class: className }))
  return row
}

async function refreshTopics (): Promise<void> {
  try {
    const response = await fetch(new URL('topics?limit=1000', location.href), { headers: authorization })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    const page = await response.json() as TopicsPage
    topicsBody.replaceChildren(
      ...page.topics.map((entry) => topicRow(entry.topic, entry.subscribers, String(entry.seq))),
      ...page.patterns.map((entry) => topicRow(entry.pattern, entry.subscribers, '—'))
    )
    if (topicsBody.childElementCount === 0) topicsBody.append(noteRow('No topics yet.', 'muted'))
  } catch (error) {
    topicsBody.replaceChildren(noteRow(`Cannot list topics: ${(error as Error).message}`, 'error'))
  }
}
byId('refresh-topics').addEventListener('click', () => { void refreshTopics() })
setInterval(() => { if (document.visibilityState === 'visible') void refreshTopics() }, TOPICS_REFRESH_MS)
