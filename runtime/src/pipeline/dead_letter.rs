//! The dead-letter file of one sink: batches it could not deliver, with why.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::batch::Batch;

/// Appends undeliverable records to `<data_dir>/dead-letter/<sink>.ndjson`,
/// one JSON line per record:
/// `{"sink":..,"reason":..,"sequence":..,"at":..,"record":<the record>}`.
/// The file is opened on first use, so a healthy sink leaves no file.
pub(crate) struct DeadLetterFile {
    sink: String,
    path: PathBuf,
    file: Option<BufWriter<File>>,
}

impl DeadLetterFile {
    pub fn new(data_dir: &Path, sink: &str) -> Self {
        Self {
            sink: sink.to_owned(),
            path: data_dir.join("dead-letter").join(format!("{sink}.ndjson")),
            file: None,
        }
    }

    /// Writes every record of `batch` with `reason` and syncs the file, so a
    /// dead-lettered record survives a crash right after.
    pub fn write(&mut self, batch: &Batch, reason: &str) -> std::io::Result<()> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.file = Some(BufWriter::new(file));
        }
        let file = self.file.as_mut().expect("opened above");
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let sink = serde_json::to_string(&self.sink)?;
        let reason = serde_json::to_string(reason)?;
        for (i, record) in batch.records().enumerate() {
            let sequence = batch.first_sequence() + i as u64;
            write!(
                file,
                r#"{{"sink":{sink},"reason":{reason},"sequence":{sequence},"at":"{at}","record":"#
            )?;
            file.write_all(record)?;
            file.write_all(b"}\n")?;
        }
        file.flush()?;
        file.get_ref().sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
