import t from 'tap'
import { SortedKeys } from '../../src/pubsub/sorted-keys.js'

t.test('keeps keys sorted and unique; pages from a prefix and a cursor', async (t) => {
  const keys = new SortedKeys()
  for (const k of ['b', 'a.2', 'c', 'a.1', 'b', 'a.10']) keys.add(k)
  t.equal(keys.size, 5)
  t.same([...keys.from('', undefined)], ['a.1', 'a.10', 'a.2', 'b', 'c'])
  t.same([...keys.from('a.', undefined)], ['a.1', 'a.10', 'a.2'])
  t.same([...keys.from('a.', 'a.10')], ['a.2'])
  t.same([...keys.from('', 'a.2')], ['b', 'c'])
  t.same([...keys.from('b', 'a')], ['b'], 'a cursor before the prefix starts at the prefix')
  t.same([...keys.from('', 'bb')], ['c'], 'a cursor that is not a key')
  keys.delete('b')
  keys.delete('zz')
  t.same([...keys.from('', undefined)], ['a.1', 'a.10', 'a.2', 'c'])
})
