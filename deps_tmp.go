package netsession

import (
	_ "github.com/cloudsoda/go-smb2"
	_ "github.com/google/go-cmp/cmp"
	_ "go.uber.org/goleak"
	_ "golang.org/x/term"
)
