package auth

import (
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
)

// Mechanism names a security mechanism by its object identifier in dotted
// form ("1.3.6.1.4.1.311.2.2.10"). Being a string it is comparable and can
// be a constant; OID converts it for encoders.
type Mechanism string

// The mechanisms this module knows by name.
const (
	// MechSPNEGO is 1.3.6.1.5.5.2, the SPNEGO pseudo-mechanism.
	MechSPNEGO Mechanism = "1.3.6.1.5.5.2"
	// MechNTLM is 1.3.6.1.4.1.311.2.2.10, NTLMSSP.
	MechNTLM Mechanism = "1.3.6.1.4.1.311.2.2.10"
	// MechKerberos is 1.2.840.113554.1.2.2, Kerberos 5.
	MechKerberos Mechanism = "1.2.840.113554.1.2.2"
	// MechMSKerberos is 1.2.840.48018.1.2.2, the Kerberos OID Windows
	// sends first (its historical mis-encoding of the real one).
	MechMSKerberos Mechanism = "1.2.840.48018.1.2.2"
)

// MechanismOf returns the Mechanism of an object identifier.
func MechanismOf(oid asn1.ObjectIdentifier) Mechanism { return Mechanism(oid.String()) }

// OID parses m into an object identifier; m must be dotted decimal with at
// least two arcs.
func (m Mechanism) OID() (asn1.ObjectIdentifier, error) {
	parts := strings.Split(string(m), ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("auth: mechanism %q is not a dotted object identifier", string(m))
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("auth: mechanism %q is not a dotted object identifier", string(m))
		}
		oid[i] = n
	}
	return oid, nil
}

// String returns the mechanism's common name for the ones this package
// knows ("NTLMSSP"), the dotted identifier otherwise.
func (m Mechanism) String() string {
	switch m {
	case MechSPNEGO:
		return "SPNEGO"
	case MechNTLM:
		return "NTLMSSP"
	case MechKerberos:
		return "Kerberos"
	case MechMSKerberos:
		return "MS-Kerberos"
	}
	return string(m)
}
