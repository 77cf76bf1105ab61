//! Loading one batch: its rows encoded and handed to the server piece by
//! piece in one transaction, and, when the server refuses some rows for
//! their data, those rows found under savepoints.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use deadpool_postgres::{Pool, Transaction};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, SinkExt, StreamExt};

use super::rows::{ColumnArrays, RowScratch};
use super::sink::{PostgresSinkOptions, PostgresWriteMode};
use crate::batch::Batch;
use crate::sinks::util::http::response_class::bounded_text;

/// Rows are encoded and handed over this many at a time: the server works
/// on one piece while the next is encoded, so it waits only for the first
/// piece of a batch, not for the whole batch to be encoded.
const ROWS_PER_PIECE: usize = 256;

/// Why a load stopped.
pub(super) enum LoadError {
    /// The server, the connection or the deadline: retry the batch.
    Transient(String),
    /// The table is gone: create it again, then retry.
    NoTable(String),
}

/// Loads every row of `batch` in one transaction. A range the server
/// refuses for its data is rolled back to its savepoint and split in
/// halves until each refused row stands alone; everything else is
/// committed. Returns the refused rows, ascending, each with the server's
/// reason.
pub(super) async fn load_batch(
    pool: &Pool,
    options: &PostgresSinkOptions,
    batch: &Batch,
) -> Result<Vec<(Range<u32>, String)>, LoadError> {
    let mut client = pool
        .get()
        .await
        .map_err(|e| LoadError::Transient(pool_error(&e)))?;
    let mut rows = encode_lazily(batch, options);
    // Nearly every batch loads whole: try that first, in one transaction
    // without savepoints (two round trips fewer). Only a batch the server
    // refuses for its data is loaded again, halving under savepoints.
    let whole = client
        .transaction()
        .await
        .map_err(|e| transient("cannot begin a transaction", &e))?;
    match load_whole(&whole, options, &mut rows).await {
        Ok(()) => {
            whole
                .commit()
                .await
                .map_err(|e| transient("cannot commit", &e))?;
            return Ok(Vec::new());
        }
        Err(err) if is_data_error(&err) => {
            whole
                .rollback()
                .await
                .map_err(|e| transient("cannot roll back", &e))?;
        }
        Err(err) => return Err(load_error(options, &err)),
    }
    // The refusal may have come before every piece was encoded.
    while rows.encode_piece().is_some() {}
    let transaction = client
        .transaction()
        .await
        .map_err(|e| transient("cannot begin a transaction", &e))?;
    let mut refused = Vec::new();
    // Ranges still to load, the next one last.
    let mut pending = Vec::with_capacity(16);
    pending.push(0..rows.len());
    while let Some(range) = pending.pop() {
        if range.is_empty() {
            continue;
        }
        transaction
            .batch_execute("SAVEPOINT sinkbox_rows")
            .await
            .map_err(|e| transient("cannot set a savepoint", &e))?;
        match load_range(&transaction, options, &mut rows, range.clone()).await {
            Ok(()) => transaction
                .batch_execute("RELEASE SAVEPOINT sinkbox_rows")
                .await
                .map_err(|e| transient("cannot release a savepoint", &e))?,
            Err(err) if is_data_error(&err) => {
                transaction
                    .batch_execute("ROLLBACK TO SAVEPOINT sinkbox_rows")
                    .await
                    .map_err(|e| transient("cannot roll back to a savepoint", &e))?;
                if range.len() == 1 {
                    let at = range.start as u32;
                    refused.push((at..at + 1, db_error(&err)));
                } else {
                    let middle = range.start + range.len() / 2;
                    pending.push(middle..range.end);
                    pending.push(range.start..middle);
                }
            }
            Err(err) => return Err(load_error(options, &err)),
        }
    }
    transaction
        .commit()
        .await
        .map_err(|e| transient("cannot commit", &e))?;
    Ok(refused)
}

/// Encodes the batch piece by piece, each handed to the server as soon as
/// it is encoded.
async fn load_whole<'b>(
    transaction: &Transaction<'_>,
    options: &PostgresSinkOptions,
    rows: &mut EncodedRows<'b, impl Iterator<Item = &'b [u8]>>,
) -> Result<(), tokio_postgres::Error> {
    load_parts(transaction, options, rows, EncodedRows::encode_piece).await
}

/// Loads rows `range` (already encoded).
async fn load_range<'b>(
    transaction: &Transaction<'_>,
    options: &PostgresSinkOptions,
    rows: &mut EncodedRows<'b, impl Iterator<Item = &'b [u8]>>,
    range: Range<usize>,
) -> Result<(), tokio_postgres::Error> {
    // Split where pieces end: an INSERT's arrays are one piece's.
    let mut start = range.start;
    let mut parts = std::iter::from_fn(move || {
        (start < range.end).then(|| {
            let end = range.end.min((start / ROWS_PER_PIECE + 1) * ROWS_PER_PIECE);
            let part = start..end;
            start = end;
            part
        })
    });
    load_parts(transaction, options, rows, |_| parts.next()).await
}

/// Loads the rows of each part `next_part` gives (within one piece each;
/// it may encode them first) with the configured statement: one `COPY`
/// fed part by part, or one `INSERT` per part, pipelined (each sent before
/// the previous one is answered).
async fn load_parts<'b, R: Iterator<Item = &'b [u8]>>(
    transaction: &Transaction<'_>,
    options: &PostgresSinkOptions,
    rows: &mut EncodedRows<'b, R>,
    mut next_part: impl FnMut(&mut EncodedRows<'b, R>) -> Option<Range<usize>>,
) -> Result<(), tokio_postgres::Error> {
    match options.write_mode {
        PostgresWriteMode::Copy => {
            let sink = transaction
                .copy_in(&options.layout.copy_statement())
                .await?;
            futures_util::pin_mut!(sink);
            while let Some(part) = next_part(rows) {
                sink.send(rows.copy_lines(part)).await?;
            }
            sink.finish().await?;
        }
        PostgresWriteMode::Insert => {
            // Prepared once per connection: the statement is the same for
            // every part whatever its length.
            let statement = transaction
                .prepare_cached(&options.layout.insert_statement())
                .await?;
            let mut in_flight = FuturesOrdered::new();
            while let Some(part) = next_part(rows) {
                in_flight.push_back(transaction.execute_raw(&statement, rows.insert_params(part)));
                // One poll sends the statement; answers already back are
                // taken now, so a refusal stops the encoding early.
                while let Some(Some(answer)) = in_flight.next().now_or_never() {
                    answer?;
                }
            }
            while let Some(answer) = in_flight.next().await {
                answer?;
            }
        }
    }
    Ok(())
}

/// A batch's rows, encoded once whatever ranges are loaded, in pieces of
/// [`ROWS_PER_PIECE`] rows encoded on demand.
struct EncodedRows<'b, R> {
    options: &'b PostgresSinkOptions,
    records: R,
    /// Room for one piece's COPY lines (the batch's bytes twice over,
    /// shared out among its pieces).
    piece_capacity: usize,
    scratch: RowScratch<'b>,
    /// Rows encoded so far.
    encoded: usize,
    pieces: Pieces,
}

/// The encoded pieces, in order.
enum Pieces {
    /// COPY text: each piece's lines back to back, and where each row's
    /// line ends within its piece.
    Copy { lines: Vec<Bytes>, ends: Vec<usize> },
    /// One text array per column for each piece.
    Insert(Vec<Arc<ColumnArrays>>),
}

/// `batch`'s rows, none encoded yet.
fn encode_lazily<'b>(
    batch: &'b Batch,
    options: &'b PostgresSinkOptions,
) -> EncodedRows<'b, impl Iterator<Item = &'b [u8]>> {
    let pieces = match options.write_mode {
        PostgresWriteMode::Copy => Pieces::Copy {
            lines: Vec::new(),
            ends: Vec::with_capacity(batch.len() as usize),
        },
        PostgresWriteMode::Insert => Pieces::Insert(Vec::new()),
    };
    let piece_count = (batch.len() as usize).div_ceil(ROWS_PER_PIECE).max(1);
    EncodedRows {
        options,
        records: batch.records(),
        piece_capacity: batch.bytes().len() * 2 / piece_count,
        scratch: RowScratch::default(),
        encoded: 0,
        pieces,
    }
}

impl<'b, R: Iterator<Item = &'b [u8]>> EncodedRows<'b, R> {
    /// Rows encoded so far.
    fn len(&self) -> usize {
        self.encoded
    }

    /// Encodes the next piece; its rows, or `None` once every row is.
    fn encode_piece(&mut self) -> Option<Range<usize>> {
        let start = self.encoded;
        let encoder = &self.options.encoder;
        let mut records = self.records.by_ref().take(ROWS_PER_PIECE).peekable();
        records.peek()?;
        let mut count = 0;
        match &mut self.pieces {
            Pieces::Copy { lines, ends } => {
                let mut piece = Vec::with_capacity(self.piece_capacity);
                for record in records {
                    encoder.copy_line(record, &mut self.scratch, &mut piece);
                    ends.push(piece.len());
                    count += 1;
                }
                lines.push(Bytes::from(piece));
            }
            Pieces::Insert(pieces) => {
                let mut arrays = ColumnArrays::new(self.options.layout.width(), ROWS_PER_PIECE);
                for record in records {
                    encoder.insert_row(record, &mut self.scratch, &mut arrays);
                    count += 1;
                }
                pieces.push(Arc::new(arrays));
            }
        }
        self.encoded = start + count;
        Some(start..self.encoded)
    }

    /// Rows `range`'s COPY lines (within one piece).
    fn copy_lines(&self, range: Range<usize>) -> Bytes {
        let Pieces::Copy { lines, ends } = &self.pieces else {
            return Bytes::new();
        };
        let from = if range.start.is_multiple_of(ROWS_PER_PIECE) {
            0
        } else {
            ends[range.start - 1]
        };
        lines[range.start / ROWS_PER_PIECE].slice(from..ends[range.end - 1])
    }

    /// Rows `range` (within one piece) as the INSERT's parameters.
    fn insert_params(&self, range: Range<usize>) -> Vec<super::rows::TextArrayParam> {
        let Pieces::Insert(pieces) = &self.pieces else {
            return Vec::new();
        };
        let piece = range.start / ROWS_PER_PIECE;
        let first = piece * ROWS_PER_PIECE;
        pieces[piece].params(range.start - first..range.end - first)
    }
}

/// What a failed load that is not about the rows' data means.
fn load_error(options: &PostgresSinkOptions, err: &tokio_postgres::Error) -> LoadError {
    if err.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
        return LoadError::NoTable(format!(
            "the table {} does not exist: {}",
            options.layout.qualified(),
            db_error(err)
        ));
    }
    transient("the server refused the batch", err)
}

/// A refusal of the rows themselves (SQLSTATE class 22, data exception,
/// or 23, integrity constraint), as opposed to the server or connection.
fn is_data_error(err: &tokio_postgres::Error) -> bool {
    err.code()
        .is_some_and(|code| matches!(code.code().get(..2), Some("22" | "23")))
}

fn transient(what: &str, err: &tokio_postgres::Error) -> LoadError {
    LoadError::Transient(format!("{what}: {}", db_error(err)))
}

/// The server's own words and SQLSTATE, or the client's error, bounded
/// and escaped (they reach logs and dead letters).
pub(super) fn db_error(err: &tokio_postgres::Error) -> String {
    let text = match err.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(": ");
                text.push_str(detail);
            }
            text
        }
        None => err.to_string(),
    };
    bounded_text(text.as_bytes())
}

pub(super) fn pool_error(err: &deadpool_postgres::PoolError) -> String {
    match err {
        deadpool_postgres::PoolError::Backend(e) => format!("cannot connect: {}", db_error(e)),
        other => format!("cannot get a connection: {other}"),
    }
}
