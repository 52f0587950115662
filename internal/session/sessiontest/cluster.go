package sessiontest

import (
	"context"

	"github.com/gomodule/redigo/redis"
)

// Source is what CountingSource wraps: redisconn.Source (a pool or a
// cluster client).
type Source interface {
	GetContext(ctx context.Context) (redis.Conn, error)
}

// CountingSource wraps src so that every command sent on its connections
// is recorded in the returned Counter.
func CountingSource(src Source) (Source, *Counter) {
	c := &Counter{}
	return &countingSource{src: src, c: c}, c
}

type countingSource struct {
	src Source
	c   *Counter
}

func (s *countingSource) GetContext(ctx context.Context) (redis.Conn, error) {
	conn, err := s.src.GetContext(ctx)
	if err != nil {
		return conn, err
	}
	return &countingConn{Conn: conn, c: s.c}, nil
}
