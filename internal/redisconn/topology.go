package redisconn

// TopologyObserver is told when Latch notices that the Redis topology
// changed, so that operators can see failovers in the metrics
// (latch_redis_topology_changes_total; *metrics.Recorder implements it).
// The Sentinel and Cluster connection code takes one (nil: nobody is told)
// and calls it once per change it acts on, from any goroutine.
type TopologyObserver interface {
	// RedisTopologyChange counts one change of kind (TopologyMasterChanged,
	// TopologySlotsRefreshed).
	RedisTopologyChange(kind string)
}

// Kinds of topology change (the kind label of
// latch_redis_topology_changes_total).
const (
	// TopologyMasterChanged: Sentinel mode, the master address Latch
	// writes to is not the one it wrote to before (a failover, or a
	// demoted master's connections discarded).
	TopologyMasterChanged = "master_changed"
	// TopologySlotsRefreshed: Cluster mode, the slot map was reloaded
	// (after a MOVED reply or a failover).
	TopologySlotsRefreshed = "slots_refreshed"
)
