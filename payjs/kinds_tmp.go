package payjs

import "context"

// Temporary until the payjs branch lands.
const (
	KindAlreadyClosed Kind = "already_closed"
	KindPaid          Kind = "paid"
	KindKeyMismatch   Kind = "key_mismatch"
)

// CloseOrder is temporary until the payjs branch lands.
func (c *Client) CloseOrder(ctx context.Context, id string) (*Result, error) { return c.Close(ctx, id) }
