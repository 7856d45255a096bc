package krb5

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/types"
)

// decrypt decrypts an EncryptedData with key for usage. The library
// slices ciphertexts without checking their length, so a ciphertext too
// short to hold a confounder and a checksum, or of another encryption
// type than the key, is refused before it is handed over; a panic left in
// the library becomes an error.
func decrypt(ed types.EncryptedData, key types.EncryptionKey, usage uint32) (plain []byte, err error) {
	if ed.EType != key.KeyType {
		return nil, fmt.Errorf("encrypted with type %d, key of type %d", ed.EType, key.KeyType)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	if min := et.GetConfounderByteSize() + et.GetHMACBitLength()/8; len(ed.Cipher) < min {
		return nil, fmt.Errorf("ciphertext of %d bytes, at least %d needed", len(ed.Cipher), min)
	}
	if len(key.KeyValue) != et.GetKeyByteSize() {
		return nil, fmt.Errorf("key of %d bytes for type %d", len(key.KeyValue), key.KeyType)
	}
	defer func() {
		if r := recover(); r != nil {
			plain, err = nil, fmt.Errorf("decryption panic: %v", r)
		}
	}()
	return crypto.DecryptEncPart(ed, key, usage)
}
