package bbpe

// binHeap is a binary heap whose top is the element that sorts first by less:
// the encoder's merge candidates and the trainer's pair queue share it.
type binHeap[T interface{ less(T) bool }] []T

func (h *binHeap[T]) push(x T) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *binHeap[T]) pop() T {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, first := 2*i+1, i
		if l < len(s) && s[l].less(s[first]) {
			first = l
		}
		if r := l + 1; r < len(s) && s[r].less(s[first]) {
			first = r
		}
		if first == i {
			break
		}
		s[i], s[first] = s[first], s[i]
		i = first
	}
	*h = s
	return top
}
