import t from 'tap'
import Type from 'typebox'
import { admit, checkNamespaces, compareSpecificity, compileNamespaces, MAX_RESOLVED_TOPICS, type Namespaces } from '../../src/pubsub/namespaces.js'
import { WORKED } from '../namespaces-example.js'

function compiled (patterns: string[]): Namespaces {
  return compileNamespaces(Object.fromEntries(patterns.map((p) => [p, {}]))) as Namespaces
}

t.test('a topic takes the most specific pattern that matches it', async (t) => {
  const namespaces = compiled(['>', 'chat.>', 'chat.*', 'chat.*.typing', 'chat.lobby', '*.lobby', 'chat.*.>', 'user.*.inbox', '*.*.inbox', 'prices.>'])
  const table: Array<[topic: string, namespace: string | undefined]> = [
    ['chat.lobby', 'chat.lobby'], // a literal beats * at the last token
    ['chat.room1', 'chat.*'], // * beats >
    ['chat.room1.typing', 'chat.*.typing'], // literal beats > at the third token
    ['chat.room1.other', 'chat.*.>'], // chat.* then > beats chat. then >
    ['chat.a.b.c', 'chat.*.>'],
    ['news.lobby', '*.lobby'], // * before a literal still beats the lone >
    ['user.7.inbox', 'user.*.inbox'], // the first differing position decides: literal beats *
    ['group.7.inbox', '*.*.inbox'],
    ['prices.eur', 'prices.>'],
    ['anything', '>'], // > alone matches every topic
    ['a.b.c.d', '>']
  ]
  for (const [topic, pattern] of table) t.equal(namespaces.resolve(topic)?.pattern, pattern, topic)
  const none = compiled(['chat.>', 'user.*'])
  t.equal(none.resolve('chat'), undefined, 'chat.> needs a token after chat')
  t.equal(none.resolve('user.1.x'), undefined, '* is one token')
  t.equal(none.resolve('other'), undefined, 'no match')
  t.equal(none.resolve('other'), undefined, 'no match, cached')
})

t.test('specificity compares token kinds left to right; of a prefix in kinds, the longer wins', async (t) => {
  t.ok(compareSpecificity('a.b', 'a.*') < 0, 'literal before *')
  t.ok(compareSpecificity('a.*', 'a.>') < 0, '* before >')
  t.ok(compareSpecificity('a.>', '*.b') < 0, 'the first position decides')
  t.ok(compareSpecificity('*.*', '*') < 0, 'a longer one whose kinds the shorter starts')
  t.ok(compareSpecificity('*', '*.*') > 0)
  t.equal(compareSpecificity('a.b', 'c.d'), 0, 'the same kinds never match the same topic')
  t.equal(compileNamespaces({})?.list, undefined, 'none: no resolver at all')
  t.equal(compileNamespaces(undefined), undefined)
  t.same(compiled(['>', 'a.*', 'a.b', '*.>']).list.map((n) => n.pattern), ['a.b', 'a.*', '*.>', '>'])
})

t.test('resolution is cached per topic, bounded: the oldest goes first', async (t) => {
  const namespaces = compiled(['chat.>'])
  const first = namespaces.resolve('chat.0')
  t.equal(namespaces.resolve('chat.0'), first, 'the same object')
  for (let i = 1; i <= MAX_RESOLVED_TOPICS; i++) namespaces.resolve(`chat.${i}`)
  t.equal(namespaces.cached, MAX_RESOLVED_TOPICS, 'never past the bound')
  t.equal(namespaces.resolve('chat.0')?.pattern, 'chat.>', 'an evicted topic resolves again')
})

t.test('the options are checked: keys, fields, ranges, with the field named', async (t) => {
  t.doesNotThrow(() => { checkNamespaces(WORKED) }, 'the worked config')
  t.doesNotThrow(() => { checkNamespaces({ 'a.>': { historySize: undefined } }) }, 'undefined is left out')
  const cases: Array<[unknown, RegExp]> = [
    [[], /^Invalid option 'namespaces': \[\] \(an object of patterns/],
    [{ 'a..b': {} }, /^Invalid option 'namespaces\['a\.\.b'\]': "a\.\.b" \(a key is a topic or pattern/],
    [{ 'a.>.b': {} }, /namespaces\['a\.>\.b'\]/],
    [{ 'chat.>': 5 }, /^Invalid option 'namespaces\['chat\.>'\]': 5 \(an object of namespace options\)/],
    [{ 'chat.>': { historySize: -1 } }, /^Invalid option 'namespaces\['chat\.>'\]\.historySize': -1 \(an integer >= 0\)/],
    [{ 'chat.>': { historySize: 1.5 } }, /historySize': 1\.5/],
    [{ 'chat.>': { historyTtl: 0 } }, /^Invalid option 'namespaces\['chat\.>'\]\.historyTtl': 0 \(an integer from 1 to 2147483647\)/],
    [{ 'chat.>': { maxMessageBytes: 0 } }, /maxMessageBytes': 0 \(an integer from 1 to 2147483647\)/],
    [{ 'chat.>': { clientPublish: 'no' } }, /clientPublish': "no" \(true or false\)/],
    [{ 'chat.>': { presence: 1 } }, /presence': 1 \(true or false\)/],
    [{ 'chat.>': { schema: [] } }, /^Invalid option 'namespaces\['chat\.>'\]\.schema': "\(schema\)" \(a JSON Schema object\)/],
    [{ 'chat.>': { histroySize: 5 } }, /^Invalid option 'namespaces\['chat\.>'\]\.histroySize': "\(hidden\)" \(not a namespace option \(did you mean 'historySize'\?\): see docs\/namespaces\.md\)/],
    [{ 'chat.>': { conflate: 'yes' } }, /conflate': "yes" \(true or false\)/],
    [{ 'chat.>': { debounce: 100 } }, /'namespaces\['chat\.>'\]\.debounce': "\(hidden\)" \(not a namespace option: see/]
  ]
  for (const [options, message] of cases) t.throws(() => { checkNamespaces(options) }, { code: 'PUBSUB_ERR_OPTION', message }, JSON.stringify(options))
})

t.test('a schema that does not compile is refused, naming its namespace', async (t) => {
  t.throws(() => compileNamespaces({ 'chat.>': { schema: { type: 'object', unknownKeyword: 1 } } }), { code: 'PUBSUB_ERR_OPTION', message: /^Invalid option 'namespaces\['chat\.>'\]\.schema': "\(schema\)" \(a JSON Schema that compiles: strict mode: unknown keyword: "unknownKeyword"\)/ })
  t.throws(() => compileNamespaces({ 'a.>': { schema: { $ref: 'https://example.com/schema.json' } } }), { code: 'PUBSUB_ERR_OPTION', message: /namespaces\['a\.>'\]\.schema.*can't resolve reference/ }, 'no remote references')
  t.throws(() => compileNamespaces({ 'a.>': { schema: { type: 'string', format: 'email' } } }), { code: 'PUBSUB_ERR_OPTION', message: /unknown format "email"/ }, 'no formats')
  t.throws(() => compileNamespaces({ 'a.>': { historySize: -1 } }), { code: 'PUBSUB_ERR_OPTION' }, 'checked when compiled, too')
})

t.test('admit: clientPublish, maxMessageBytes, then the schema', async (t) => {
  const namespaces = compileNamespaces({ ...WORKED, 'small.>': { maxMessageBytes: 10 }, 'deep.>': { schema: { type: 'object', additionalProperties: { type: 'number' } } } }) as Namespaces
  const at = (topic: string) => namespaces.resolve(topic) as NonNullable<ReturnType<Namespaces['resolve']>>
  const ok = (topic: string, data: unknown, client = true): void => { admit(at(topic), data, JSON.stringify(data), client) }
  t.doesNotThrow(() => { ok('chat.lobby', { text: 'hi' }) })
  t.throws(() => { ok('chat.lobby', { text: 1 }) }, { code: 'PUBSUB_ERR_INVALID_MESSAGE', statusCode: 400, message: "the message does not match the schema of namespace 'chat.>': /text must be string" })
  t.throws(() => { ok('chat.lobby', { text: 'hi', extra: 1 }) }, { message: /: \/ must NOT have additional properties \('extra'\)$/ })
  t.throws(() => { ok('chat.lobby', 'text') }, { message: /: \/ must be object$/ })
  t.throws(() => { ok('chat.lobby', {}) }, { message: /: \/ must have required property 'text'$/ })
  t.throws(() => { ok('chat.lobby', { text: 'x'.repeat(2001) }) }, { message: /\/text must NOT have more than 2000 characters/ })
  t.throws(() => { ok('prices.eur', { ['x'.repeat(500)]: 1 }) }, { message: /must have required property 'price'/ })
  t.throws(() => { ok('deep.x', { ['k'.repeat(400)]: 'x' }) }, { code: 'PUBSUB_ERR_INVALID_MESSAGE', message: /^the message does not match the schema of namespace 'deep\.>': \/k{190,199}$/ }, 'a long instance path is clipped')
  t.doesNotThrow(() => { ok('typing.lobby', 'anything') }, 'no schema')
  t.throws(() => { ok('system.deploys', 'x') }, { code: 'PUBSUB_ERR_FORBIDDEN', statusCode: 403, message: "clients may not publish to namespace 'system.>' (clientPublish: false)" })
  t.doesNotThrow(() => { ok('system.deploys', 'x', false) }, 'the application may')
  t.doesNotThrow(() => { ok('small.x', '12345678') }, '10 bytes of JSON text')
  t.throws(() => { ok('small.x', '123456789') }, { code: 'PUBSUB_ERR_BAD_REQUEST', message: "the message is 11 bytes, over the 10-byte limit of namespace 'small.>' (maxMessageBytes)" })
  t.doesNotThrow(() => { ok('small.x', 'éé') }, 'counted in UTF-8 bytes: 6')
  t.doesNotThrow(() => { ok('small.x', 'éééé') }, '10 bytes: at the limit')
  t.throws(() => { ok('small.x', 'ééééé') }, { message: /the message is 12 bytes/ }, 'counted in UTF-8 bytes, not characters')
  t.doesNotThrow(() => { ok('small.x', 1) }, 'too short to count')
})

t.test('the TypeBox schemas of docs/namespaces.md compile and judge as the JSON ones do', async (t) => {
  const namespaces = compileNamespaces({
    // Spread: a TypeBox schema is an interface, which Record<string, unknown> does not take as it is.
    'chat.>': { historySize: 500, schema: { ...Type.Object({ text: Type.String({ maxLength: 2000 }) }, { additionalProperties: false }) } },
    'prices.>': { historySize: 1, schema: { ...Type.Object({ price: Type.Number() }) } }
  }) as Namespaces
  const json = compileNamespaces(WORKED) as Namespaces
  const samples: Array<[string, unknown]> = [['chat.a', { text: 'hi' }], ['chat.a', { text: 1 }], ['chat.a', {}], ['chat.a', { text: 'x', y: 1 }], ['prices.eur', { price: 1 }], ['prices.eur', { price: '1' }]]
  for (const [topic, data] of samples) {
    t.equal(namespaces.resolve(topic)?.check?.(data), json.resolve(topic)?.check?.(data), JSON.stringify(data))
  }
})
