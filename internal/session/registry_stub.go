package session

import (
	"context"
	"errors"
)

var errTODO = errors.New("session: registry not implemented yet")

func (s *RedisStore) UserSessions(ctx context.Context, userID int64) ([]Record, error) {
	return nil, errTODO
}
func (s *RedisStore) Sessions(ctx context.Context, q Query) (Page, error) { return Page{}, errTODO }
func (s *RedisStore) Revoke(ctx context.Context, handle string) (Record, bool, error) {
	return Record{}, false, errTODO
}
func (s *RedisStore) RevokeUser(ctx context.Context, userID int64, except string) ([]Record, error) {
	return nil, errTODO
}
func (s *RedisStore) Sweep(ctx context.Context) (int, error) { return 0, errTODO }
func (s *SQLStore) UserSessions(ctx context.Context, userID int64) ([]Record, error) {
	return nil, errTODO
}
func (s *SQLStore) Sessions(ctx context.Context, q Query) (Page, error) { return Page{}, errTODO }
func (s *SQLStore) Revoke(ctx context.Context, handle string) (Record, bool, error) {
	return Record{}, false, errTODO
}
func (s *SQLStore) RevokeUser(ctx context.Context, userID int64, except string) ([]Record, error) {
	return nil, errTODO
}


func (s *SQLStore) Sweep(ctx context.Context) (int, error) {
	n, err := s.DeleteExpired(ctx)
	return int(n), err
}
