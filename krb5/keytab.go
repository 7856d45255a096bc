package krb5

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

// keytabEntry is one key of a keytab file.
type keytabEntry struct {
	principal string // name components joined by "/"
	realm     string
	nameType  uint32
	kvno      uint32
	etype     int32
	key       []byte
}

// encodeKeytab writes entries in the keytab file format, version 0x502.
func encodeKeytab(entries []keytabEntry) []byte {
	out := []byte{5, 2}
	for _, e := range entries {
		comps := strings.Split(e.principal, "/")
		var b []byte
		b = binary.BigEndian.AppendUint16(b, uint16(len(comps)))
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.realm)))
		b = append(b, e.realm...)
		for _, c := range comps {
			b = binary.BigEndian.AppendUint16(b, uint16(len(c)))
			b = append(b, c...)
		}
		b = binary.BigEndian.AppendUint32(b, e.nameType)
		b = binary.BigEndian.AppendUint32(b, 0) // timestamp
		b = append(b, byte(e.kvno))
		b = binary.BigEndian.AppendUint16(b, uint16(e.etype))
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.key)))
		b = append(b, e.key...)
		b = binary.BigEndian.AppendUint32(b, e.kvno)
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// keyKeytab is an in-memory keytab holding one key of user@realm, for
// the library's keytab logon. kvno 0 matches any key version the KDC
// names.
func keyKeytab(user, realm string, etype int32, key []byte) (*keytab.Keytab, error) {
	return keyKeytabVersion(user, realm, etype, key, 0)
}

// keyKeytabVersion is keyKeytab with the key version kvno.
func keyKeytabVersion(user, realm string, etype int32, key []byte, kvno uint32) (*keytab.Keytab, error) {
	kt := keytab.New()
	b := encodeKeytab([]keytabEntry{{principal: user, realm: realm, nameType: 1, kvno: kvno, etype: etype, key: key}})
	if err := kt.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCredential, err)
	}
	return kt, nil
}
