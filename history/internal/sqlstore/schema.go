package sqlstore

import "strings"

// migrations are the schema versions in order: migrations[i] takes a
// database from version i to version i+1. Applied versions are never
// edited; a change is a new version. {{id}} is the dialect's
// auto-increment primary key type.
//
// Times are UTC microseconds since the Unix epoch (BIGINT) in both engines,
// so that one set of statements serves both and comparisons are exact.
var migrations = [][]string{
	{ // 1: servers, sessions, events, runs
		`CREATE TABLE servers (
			id {{id}},
			target TEXT NOT NULL,
			address TEXT NOT NULL,
			known INTEGER NOT NULL DEFAULT 0,
			failing INTEGER NOT NULL DEFAULT 0,
			reason TEXT NOT NULL DEFAULT '',
			last_observed_us BIGINT NOT NULL DEFAULT 0,
			last_success_us BIGINT NOT NULL DEFAULT 0,
			UNIQUE (target, address)
		)`,
		`CREATE INDEX servers_address ON servers (address)`,
		`CREATE TABLE sessions (
			id {{id}},
			server_id BIGINT NOT NULL REFERENCES servers (id),
			client TEXT NOT NULL,
			user_name TEXT NOT NULL,
			user_key TEXT NOT NULL,
			user_domain TEXT NOT NULL,
			start_us BIGINT NOT NULL,
			seq INTEGER NOT NULL,
			first_seen_us BIGINT NOT NULL,
			last_seen_us BIGINT NOT NULL,
			ended_us BIGINT,
			opens BIGINT NOT NULL,
			idle BIGINT NOT NULL,
			level INTEGER NOT NULL,
			snapshot INTEGER NOT NULL,
			UNIQUE (server_id, client, user_name, start_us, seq)
		)`,
		`CREATE INDEX sessions_server_open ON sessions (server_id, ended_us)`,
		`CREATE INDEX sessions_user ON sessions (user_key, start_us)`,
		`CREATE INDEX sessions_client ON sessions (client, start_us)`,
		`CREATE INDEX sessions_start ON sessions (start_us)`,
		`CREATE INDEX sessions_ended ON sessions (ended_us)`,
		`CREATE TABLE events (
			id {{id}},
			at_us BIGINT NOT NULL,
			kind TEXT NOT NULL,
			server_id BIGINT NOT NULL REFERENCES servers (id),
			session_id BIGINT,
			user_key TEXT NOT NULL,
			client TEXT NOT NULL,
			body TEXT NOT NULL
		)`,
		`CREATE INDEX events_at ON events (at_us)`,
		`CREATE INDEX events_server ON events (server_id, at_us)`,
		`CREATE TABLE runs (
			id {{id}},
			collector TEXT NOT NULL,
			started_us BIGINT NOT NULL,
			finished_us BIGINT NOT NULL,
			targets INTEGER NOT NULL,
			failed INTEGER NOT NULL,
			target_list TEXT NOT NULL
		)`,
		`CREATE INDEX runs_started ON runs (started_us)`,
	},
}

// SchemaVersion is the newest schema version this package knows.
func SchemaVersion() int { return len(migrations) }

// Schema returns the statements of every migration for dialect d, in order
// (for documentation and tests).
func Schema(d *Dialect) []string {
	var out []string
	for _, m := range migrations {
		for _, s := range m {
			out = append(out, d.expand(s))
		}
	}
	return out
}

func (d *Dialect) expand(stmt string) string {
	return strings.ReplaceAll(stmt, "{{id}}", d.IDType)
}

// SessionIndexes returns the names and definitions of the secondary
// indexes of the sessions table (bulk loads drop and rebuild them).
func SessionIndexes() (names, defs []string) {
	for _, m := range migrations {
		for _, stmt := range m {
			if name, ok := strings.CutPrefix(stmt, "CREATE INDEX "); ok && strings.HasPrefix(name, "sessions_") {
				names = append(names, name[:strings.IndexByte(name, ' ')])
				defs = append(defs, stmt)
			}
		}
	}
	return names, defs
}
