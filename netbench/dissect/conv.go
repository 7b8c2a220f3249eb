package dissect

// convTable is a map of conversations bounded in size: when full, the least
// recently used conversation is dropped (as if it had gone idle), so memory
// does not grow with the length of the capture.
type convTable[K comparable, V any] struct {
	max  int
	m    map[K]*convEntry[K, V]
	head convEntry[K, V] // sentinel of the recency list; head.next is the newest
}

type convEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *convEntry[K, V]
}

func newConvTable[K comparable, V any](max int) *convTable[K, V] {
	t := &convTable[K, V]{max: max, m: make(map[K]*convEntry[K, V])}
	t.head.prev, t.head.next = &t.head, &t.head
	return t
}

// get returns the conversation for k, creating it (zeroed) when absent; fresh
// reports whether it was created.
func (t *convTable[K, V]) get(k K) (v *V, fresh bool) {
	if e, ok := t.m[k]; ok {
		t.unlink(e)
		t.pushFront(e)
		return &e.val, false
	}
	var e *convEntry[K, V]
	if len(t.m) >= t.max {
		e = t.head.prev // oldest
		t.unlink(e)
		delete(t.m, e.key)
		var zero V
		e.val = zero
	} else {
		e = new(convEntry[K, V])
	}
	e.key = k
	t.m[k] = e
	t.pushFront(e)
	return &e.val, true
}

// lookup returns the conversation for k or nil, without creating it.
func (t *convTable[K, V]) lookup(k K) *V {
	if e, ok := t.m[k]; ok {
		return &e.val
	}
	return nil
}

// remove drops the conversation for k.
func (t *convTable[K, V]) remove(k K) {
	if e, ok := t.m[k]; ok {
		t.unlink(e)
		delete(t.m, k)
	}
}

func (t *convTable[K, V]) len() int { return len(t.m) }

func (t *convTable[K, V]) unlink(e *convEntry[K, V]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (t *convTable[K, V]) pushFront(e *convEntry[K, V]) {
	e.next = t.head.next
	e.prev = &t.head
	t.head.next.prev = e
	t.head.next = e
}
