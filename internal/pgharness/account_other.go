//go:build !linux

package pgharness

import (
	"context"
	"errors"
	"syscall"
)

func ensureAccount(ctx context.Context) (*syscall.Credential, error) {
	return nil, errors.New("pgharness: running PostgreSQL as root needs Linux (a dedicated account)")
}
