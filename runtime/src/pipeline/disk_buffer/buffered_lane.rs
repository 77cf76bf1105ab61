//! What a disk-buffered lane adds to a lane: the buffer, and the worker's
//! own short queue that the spooler fills from it.

use std::sync::Arc;

use super::store::DiskBuffer;
use crate::pipeline::queue::SinkQueue;

/// The buffer and the worker's queue of one disk-buffered lane.
pub(crate) struct BufferedLane {
    pub buffer: Arc<DiskBuffer>,
    pub queue: SinkQueue,
}
