package smb2

import (
	"strings"

	"github.com/netsession/netsession/smb2/internal/wire"
)

// treeConnect answers TREE_CONNECT: only IPC$ is shared. The new tree's
// ID goes into the answer's header.
func (c *conn) treeConnect(r *request) result {
	req, err := wire.ParseTreeConnectRequest(r.msg)
	if err != nil {
		return fail(StatusInvalidParameter)
	}
	share := req.Path[strings.LastIndexByte(req.Path, '\\')+1:]
	if !strings.EqualFold(share, "IPC$") {
		return fail(StatusBadNetworkName)
	}
	s := r.sess
	if len(s.trees) >= maxTreesPerSession {
		return fail(StatusInsufficientResources)
	}
	id := s.nextTree
	s.nextTree++
	s.trees[id] = true
	r.hdr.TreeID = id
	return success(wire.AppendTreeConnectResponse(nil, wire.ShareTypePipe, wire.ShareFlagNoCaching|shareFlags(s), 0, 0x001F01FF))
}

// treeDisconnect answers TREE_DISCONNECT: the tree's pipes close.
func (c *conn) treeDisconnect(r *request) result {
	if wire.ParseSmall(r.msg, "TREE_DISCONNECT") != nil {
		return fail(StatusInvalidParameter)
	}
	for id, o := range c.opens {
		if o.sess == r.sess && o.tree == r.hdr.TreeID {
			c.closeOpen(id, o)
		}
	}
	delete(r.sess.trees, r.hdr.TreeID)
	return success(wire.AppendSmall(nil))
}
