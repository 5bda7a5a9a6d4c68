package postgrestest

// CrashServer stops the server at once, as a power cut would (pg_ctl stop -m immediate: no
// checkpoint, open transactions are lost, the next start runs crash recovery). The data
// directory is kept, so StartServer brings it back (for kill-and-resume tests). Crashing a
// server that is not running is not an error.
func (c *Cluster) CrashServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	return c.backend.stop(c, "immediate")
}
