// Package bloodhound writes the sessions of a scan as BloodHound CE computer
// data: a "computers" JSON file of data version 6, and the zip the ingestors
// make around it, so that BloodHound draws a HasSession edge from each
// client computer to each user.
//
// # Records
//
// Each scanned host with a SID is one record: its ObjectIdentifier (the
// computer's SID, upper case), Properties from the directory (name, domain,
// domainsid, dnshostname, samaccountname, operatingsystem, enabled,
// lastlogontimestamp, distinguishedname, isdc) so that the node is named,
// Sessions {Results [{UserSID, ComputerSID}], Collected, FailureReason},
// PrivilegedSessions and RegistrySessions (not collected by a session scan:
// Collected false), and Status (null for a host that answered, or
// {Connectable false, Error} for one that could not be reached). The meta
// block says methods (the Session bit, 8), type "computers", count, version 6
// and collectorversion.
//
// A session is the pair (ComputerSID of the client, UserSID); pairs are
// deduplicated and SIDs upper-cased. Sessions the ingestors drop are left
// out: empty names, machine accounts, ANONYMOUS LOGON and the collecting
// account; so are sessions whose user or client could not be resolved (they
// are counted in the Report). A host whose own SID could not be resolved
// cannot be a node: it is left out and listed in the Report.
//
// # Collected and FailureReason
//
// Collected is true only when the enumeration succeeded at a level that
// carries user names (1, 2, 10 or 502). FailureReason is null then, and
// otherwise names the real reason, in the ingestors' spelling where one
// exists and in the scan's own vocabulary otherwise:
//
//	scan reason / case         FailureReason          Status
//	collected at level 0       "level_0_only"          null
//	access_denied              "ErrorAccessDenied"     null
//	timeout                    "Timeout"               null
//	invalid_level              "ErrorInvalidLevel"     null
//	port_closed                "PortNotOpen"           {false, "PortNotOpen"}
//	unreachable                "unreachable"           {false, "unreachable"}
//	name_not_resolved          "name_not_resolved"     {false, "name_not_resolved"}
//	any other reason           the reason itself       null
//	                           (logon_failure, guest_refused, not_supported,
//	                           status, rpc_fault, protocol_error, canceled)
//
// A timeout is never "Success", and a host that refused is never Collected.
// A record that is not collected carries no pairs: the sessions a failed
// enumeration read before it failed are withheld (counted in the Report).
//
// # From the history
//
// FromHistory writes the computers file of a window of the session
// history (package history) instead of one scan: the sessions an
// observation listed within the window (SessionsSeen: first seen before
// its end, last seen at or after its start), grouped by server, each
// server with the outcome of the last run over it (HistoryResults: the
// last round of a collector such as netsess watch). A server whose last
// run failed is not collected, with that run's reason, whatever the window
// saw of it before; a server the last run did not cover is collected when
// the window holds a successful enumeration of it (the latest that listed
// a session), at that enumeration's level. Pairs are deduplicated across
// the window: a user who reconnected from the same computer is one pair.
// The results are resolved by the directory as a scan's are.
package bloodhound
