package secret

import "context"

// Key returns the merchant that mchid names ("" names the only one) and
// its key, from the current set ([Store.Get]): the core's
// closing.Keys. Its errors match closing.ErrKeysUnavailable,
// ErrMchIDRequired or ErrUnknownMerchant.
func (s *Store) Key(ctx context.Context, mchid string) (merchant, key string, err error) {
	set, err := s.Get(ctx)
	if err != nil {
		return "", "", err
	}
	return set.key(mchid)
}

// Rekey is [Store.Refresh] for the caller whose signature with seenKey
// PAYJS rejected: the keys it saw are the current set if that set still
// holds seenKey for the merchant, and an older one otherwise, which the
// current set already replaced (Refresh then answers it without a read).
func (s *Store) Rekey(ctx context.Context, mchid, seenKey string) (merchant, key string, err error) {
	s.mu.Lock()
	seen := s.set
	s.mu.Unlock()
	if seen != nil {
		if m, err := seen.Lookup(mchid); err == nil && m.Key != seenKey {
			seen = nil // replaced since: no set is nil
		}
	}
	set, err := s.Refresh(ctx, seen)
	if err != nil {
		return "", "", err
	}
	return set.key(mchid)
}

func (s *Set) key(mchid string) (merchant, key string, err error) {
	m, err := s.Lookup(mchid)
	if err != nil {
		return "", "", err
	}
	return m.MchID, m.Key, nil
}

// One returns the set of one merchant, mchid with key, checked as [Parse]
// checks a secret's: the keys of cmd/local's demo merchant, or of a key
// given in the environment.
func One(mchid, key string) (*Set, error) {
	if err := checkMchID(mchid, ""); err != nil {
		return nil, err
	}
	if err := checkKey(key, ""); err != nil {
		return nil, err
	}
	return newSet([]Merchant{{MchID: mchid, Key: key}}), nil
}

// Key returns the merchant that mchid names and its key. A Set is keys
// that never change (closing.Keys), as a key given in the environment.
func (s *Set) Key(_ context.Context, mchid string) (merchant, key string, err error) {
	return s.key(mchid)
}

// Rekey is [Set.Key]: a Set never changes, so reading it again finds the
// key seen.
func (s *Set) Rekey(ctx context.Context, mchid, _ string) (merchant, key string, err error) {
	return s.Key(ctx, mchid)
}
