//! Shard discovery and lineage: which shards to read, from where, and when.
//!
//! A child shard may only be read once every parent it has is drained, or records of one
//! partition key would print out of order across a reshard. [`Lineage`] is that bookkeeping as a
//! pure state machine (unit tested below); `list_shards` feeds it from ListShards, readers feed it
//! the end of each shard (with the response's ChildShards when the service sends them).

use std::collections::{BTreeMap, HashSet};

use std::time::Duration;

use anyhow::Result;
use aws_sdk_kinesis::Client;
use md5::{Digest, Md5};

use super::errors::{self, Failure};
use super::reader::sleep_or_cancel;
use super::{Start, StreamRef};
use crate::retry::{Backoff, Retry};
use crate::signals::CancellationToken;

/// What ListShards (or a ChildShards entry) says about a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub id: String,
    /// ParentShardId and AdjacentParentShardId (or a ChildShard's ParentShards).
    pub parents: Vec<String>,
    /// Inclusive hash key range; `None` when the service left it out.
    pub hash_range: Option<(u128, u128)>,
    /// Whether the shard has an ending sequence number, i.e. takes no more writes.
    pub closed: bool,
}

/// A shard that may start now: its id, where to start, and whether it is already closed.
pub type Ready = (String, Start, bool);

/// Which shards the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// `--shard`: exactly these, children not followed.
    Ids(Vec<String>),
    /// `--shard-key`: the shards whose hash range holds this hash (MD5 of the key), across reshards.
    Hash(u128),
}

impl Selection {
    /// `--shard-key KEY`: Kinesis maps a partition key to the 128-bit MD5 of its UTF-8 bytes.
    pub fn for_key(key: &str) -> Selection {
        Selection::Hash(u128::from_be_bytes(Md5::digest(key.as_bytes()).into()))
    }

    fn wants(&self, shard: &ShardInfo) -> bool {
        match self {
            Selection::All => true,
            Selection::Ids(ids) => ids.contains(&shard.id),
            Selection::Hash(h) => shard.hash_range.is_none_or(|(lo, hi)| lo <= *h && *h <= hi),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Known, waiting for a parent to drain.
    Pending,
    Reading,
    /// Read to its end, or skipped because it holds nothing in range: its children may start.
    Drained,
    /// Stopped early (`--until`, `-e`): its children must not start.
    Stopped,
    /// Not selected; counts as drained for its children's sake.
    Ignored,
}

/// The lineage of a stream's shards and the read state of each.
#[derive(Debug)]
pub struct Lineage {
    selection: Selection,
    /// Where shards of the first listing start; later shards always start at TRIM_HORIZON.
    start: Start,
    shards: BTreeMap<String, (ShardInfo, State, Start)>,
    /// Shards a reader read to their end (not those skipped without reading).
    ended: HashSet<String>,
}

impl Lineage {
    pub fn new(selection: Selection, start: Start) -> Self {
        Lineage {
            selection,
            start,
            shards: BTreeMap::new(),
            ended: HashSet::new(),
        }
    }

    /// Takes in the first listing. Fails when `--shard` names a shard the stream does not have.
    pub fn initial(&mut self, listing: Vec<ShardInfo>) -> Result<Vec<Ready>, String> {
        if let Selection::Ids(ids) = &self.selection {
            let known: HashSet<&str> = listing.iter().map(|s| s.id.as_str()).collect();
            if let Some(missing) = ids.iter().find(|id| !known.contains(id.as_str())) {
                return Err(missing.clone());
            }
        }
        for info in listing {
            let wanted = self.selection.wants(&info);
            let state = match (&self.start, wanted) {
                (_, false) => State::Ignored,
                // LATEST on a closed shard can never return a record.
                (Start::Latest, true) if info.closed => State::Drained,
                _ => State::Pending,
            };
            let start = self.start;
            self.shards.insert(info.id.clone(), (info, state, start));
        }
        Ok(self.ready())
    }

    /// Takes in shards seen later (a re-listing, or a response's ChildShards); returns those that
    /// may start now.
    pub fn discovered(&mut self, listing: Vec<ShardInfo>) -> Vec<Ready> {
        for info in listing {
            if let Some((known, _, _)) = self.shards.get_mut(&info.id) {
                known.closed |= info.closed;
                if known.hash_range.is_none() {
                    known.hash_range = info.hash_range;
                }
                continue;
            }
            // New shards are children of a reshard; `--shard` names exact shards, so it does
            // not follow them, and a shard whose parents we never knew is outside our lineage.
            let descends = info.parents.iter().any(|p| {
                self.shards
                    .get(p)
                    .is_some_and(|(_, s, _)| *s != State::Ignored)
            });
            let wanted = !matches!(self.selection, Selection::Ids(_))
                && self.selection.wants(&info)
                && (descends || info.parents.is_empty());
            let state = if wanted {
                State::Pending
            } else {
                State::Ignored
            };
            self.shards
                .insert(info.id.clone(), (info, state, Start::TrimHorizon));
        }
        self.ready()
    }

    /// A reader got to the end of a closed shard.
    pub fn drained(&mut self, id: &str) -> Vec<Ready> {
        self.set(id, State::Drained);
        self.ended.insert(id.to_string());
        self.ready()
    }

    /// A reader stopped before the end (`--until`, `-e` caught up): children stay unread.
    pub fn stopped(&mut self, id: &str) {
        self.set(id, State::Stopped);
    }

    /// Whether any shard still waits for a parent.
    pub fn has_pending(&self) -> bool {
        self.shards.values().any(|(_, s, _)| *s == State::Pending)
    }

    /// Whether a shard a reader drained has no known child yet (ferrokinesis sends no
    /// ChildShards, and a listing may lag the close): the caller should list again soon.
    pub fn missing_children(&self) -> bool {
        self.ended
            .iter()
            .any(|id| !self.shards.values().any(|(c, _, _)| c.parents.contains(id)))
    }

    fn set(&mut self, id: &str, state: State) {
        if let Some((info, s, _)) = self.shards.get_mut(id) {
            *s = state;
            if state == State::Drained {
                info.closed = true;
            }
        }
    }

    /// Marks every shard whose parents are all done as reading and returns them.
    fn ready(&mut self) -> Vec<Ready> {
        let ready: Vec<String> = self
            .shards
            .iter()
            .filter(|(_, (_, state, _))| *state == State::Pending)
            .filter(|(_, (info, _, _))| {
                info.parents.iter().all(|p| {
                    self.shards
                        .get(p)
                        .is_none_or(|(_, s, _)| matches!(s, State::Drained | State::Ignored))
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        ready
            .into_iter()
            .map(|id| {
                let entry = self.shards.get_mut(&id);
                let (start, closed) = match entry {
                    Some((info, state, start)) => {
                        *state = State::Reading;
                        (*start, info.closed)
                    }
                    None => (Start::TrimHorizon, false),
                };
                (id, start, closed)
            })
            .collect()
    }
}

/// ListShards' page size: the most a page holds (the API takes up to 10,000 but returns at most
/// 1,000), so a 1,000-shard stream is one call; some emulators default to fewer.
const PAGE_SIZE: i32 = 1000;
/// Listings to start over when a page token expired (300 s after its page) before giving up.
const EXPIRED_RESTARTS: u32 = 3;
/// The first listing's throttling backoff (LimitExceededException, after the SDK's own retries):
/// from 1 s, doubling, to 10 s, jittered, for as long as it takes: a tail cannot start without it.
const LIST_THROTTLED: Backoff =
    Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10)).with_jitter();

/// The listing a tail starts from: [`list_shards`], with throttling (the stream's ListShards
/// limit, shared with its other readers) waited out with backoff instead of ending the run.
/// `None` when `cancel` fired meanwhile.
pub async fn first_listing(
    client: &Client,
    stream: &StreamRef,
    cancel: &CancellationToken,
) -> Result<Option<Vec<ShardInfo>>> {
    let mut throttled = Retry::new(LIST_THROTTLED);
    loop {
        let failure = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(None),
            listed = list_shards(client, stream) => match listed {
                Ok(listing) => return Ok(Some(listing)),
                Err(failure) => failure,
            },
        };
        match failure {
            Failure::Throttled => {
                // Unbounded: never `None`.
                let wait = throttled.failed().unwrap_or_default();
                tracing::debug!(%stream, ?wait, "ListShards throttled; backing off");
                if sleep_or_cancel(wait, cancel).await {
                    return Ok(None);
                }
            }
            failure => return Err(listing_failed(failure, stream)),
        }
    }
}

/// A listing's failure as the one line a run ends with.
pub fn listing_failed(failure: Failure, stream: &StreamRef) -> anyhow::Error {
    let err = match failure {
        Failure::Fatal(err) | Failure::Transient(err) => err,
        Failure::Throttled => anyhow::anyhow!("throttled (LimitExceededException)"),
        Failure::Expired => anyhow::anyhow!("its page tokens kept expiring"),
    };
    err.context(format!("cannot list the shards of {stream}"))
}

/// Every shard of the stream, from ListShards page by page (never one DescribeStream page). The
/// SDK generates no paginator for ListShards: a NextToken request must not name the stream. An
/// expired page token starts the listing over.
pub async fn list_shards(client: &Client, stream: &StreamRef) -> Result<Vec<ShardInfo>, Failure> {
    let mut shards = Vec::new();
    let mut next_token: Option<String> = None;
    let mut restarts = 0;
    loop {
        let request = match next_token.take() {
            Some(token) => client.list_shards().next_token(token),
            None => stream.apply_list(client.list_shards()),
        };
        let page = match request.max_results(PAGE_SIZE).send().await {
            Ok(page) => page,
            Err(err) => match errors::list_shards(err, stream) {
                Failure::Expired if restarts < EXPIRED_RESTARTS => {
                    restarts += 1;
                    tracing::debug!(%stream, "ListShards page token expired; listing again");
                    shards.clear();
                    continue;
                }
                failure => return Err(failure),
            },
        };
        for shard in page.shards.unwrap_or_default() {
            shards.push(ShardInfo {
                parents: [shard.parent_shard_id, shard.adjacent_parent_shard_id]
                    .into_iter()
                    .flatten()
                    .collect(),
                hash_range: shard.hash_key_range.as_ref().and_then(|r| {
                    Some((
                        r.starting_hash_key.parse().ok()?,
                        r.ending_hash_key.parse().ok()?,
                    ))
                }),
                closed: shard
                    .sequence_number_range
                    .as_ref()
                    .is_some_and(|r| r.ending_sequence_number.is_some()),
                id: shard.shard_id,
            });
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next_token = Some(token),
            _ => return Ok(shards),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str], range: (u128, u128), closed: bool) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            hash_range: Some(range),
            closed,
        }
    }

    fn ids(ready: &[Ready]) -> Vec<&str> {
        ready.iter().map(|(id, _, _)| id.as_str()).collect()
    }

    const HALF: u128 = u128::MAX / 2;

    /// s0 split into s1 and s2; s1 and s2 merged into s3.
    fn split_and_merge() -> Vec<ShardInfo> {
        vec![
            shard("s0", &[], (0, u128::MAX), true),
            shard("s1", &["s0"], (0, HALF), true),
            shard("s2", &["s0"], (HALF + 1, u128::MAX), true),
            shard("s3", &["s1", "s2"], (0, u128::MAX), false),
        ]
    }

    #[test]
    fn oldest_reads_parents_before_children() {
        let mut l = Lineage::new(Selection::All, Start::TrimHorizon);
        assert_eq!(ids(&l.initial(split_and_merge()).unwrap()), ["s0"]);
        assert_eq!(ids(&l.drained("s0")), ["s1", "s2"]);
        assert!(l.drained("s1").is_empty(), "s3 must wait for both parents");
        let r = l.drained("s2");
        assert_eq!(ids(&r), ["s3"]);
        assert_eq!(r[0].1, Start::TrimHorizon);
        assert!(!l.has_pending());
    }

    #[test]
    fn latest_skips_closed_shards() {
        let mut l = Lineage::new(Selection::All, Start::Latest);
        let r = l.initial(split_and_merge()).unwrap();
        assert_eq!(ids(&r), ["s3"]);
        assert_eq!(r[0].1, Start::Latest);
    }

    #[test]
    fn timestamp_start_applies_to_the_whole_first_listing() {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut l = Lineage::new(Selection::All, Start::AtTimestamp(at));
        l.initial(split_and_merge()).unwrap();
        l.drained("s0");
        l.drained("s1");
        let r = l.drained("s2");
        assert_eq!(r[0].1, Start::AtTimestamp(at));
    }

    #[test]
    fn children_found_later_start_at_trim_horizon_after_parents() {
        let mut l = Lineage::new(Selection::All, Start::Latest);
        let r = l
            .initial(vec![
                shard("a", &[], (0, HALF), false),
                shard("b", &[], (HALF + 1, u128::MAX), false),
            ])
            .unwrap();
        assert_eq!(ids(&r), ["a", "b"]);
        // a and b are merged into c while we read.
        let c = shard("c", &["a", "b"], (0, u128::MAX), false);
        assert!(l.discovered(vec![c.clone()]).is_empty());
        assert!(l.drained("a").is_empty());
        assert!(l.has_pending());
        let r = l.drained("b");
        assert_eq!(r, vec![("c".to_string(), Start::TrimHorizon, false)]);
        // Seeing it again changes nothing.
        assert!(l.discovered(vec![c]).is_empty());
    }

    #[test]
    fn stopped_shards_hold_their_children_back() {
        let mut l = Lineage::new(Selection::All, Start::TrimHorizon);
        l.initial(split_and_merge()).unwrap();
        l.stopped("s0");
        assert!(l.discovered(vec![]).is_empty());
        assert!(l.has_pending());
    }

    #[test]
    fn shard_ids_are_exact_and_checked() {
        let mut l = Lineage::new(Selection::Ids(vec!["s9".into()]), Start::Latest);
        assert_eq!(l.initial(split_and_merge()).unwrap_err(), "s9");
        let mut l = Lineage::new(Selection::Ids(vec!["s1".into()]), Start::TrimHorizon);
        assert_eq!(ids(&l.initial(split_and_merge()).unwrap()), ["s1"]);
        assert!(
            l.drained("s1").is_empty(),
            "children of --shard are not followed"
        );
    }

    #[test]
    fn shard_key_follows_the_hash_across_reshards() {
        let mut l = Lineage::new(Selection::Hash(HALF + 5), Start::TrimHorizon);
        assert_eq!(ids(&l.initial(split_and_merge()).unwrap()), ["s0"]);
        assert_eq!(ids(&l.drained("s0")), ["s2"], "s1 does not hold the key");
        assert_eq!(
            ids(&l.drained("s2")),
            ["s3"],
            "s1 is ignored, not waited for"
        );
        let r = l.discovered(vec![
            shard("s4", &["s3"], (0, HALF), false),
            shard("s5", &["s3"], (HALF + 1, u128::MAX), false),
        ]);
        assert!(r.is_empty());
        assert_eq!(ids(&l.drained("s3")), ["s5"]);
    }

    #[test]
    fn key_hash_is_md5_big_endian() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(
            Selection::for_key(""),
            Selection::Hash(0xd41d8cd98f00b204e9800998ecf8427e)
        );
    }

    #[test]
    fn missing_children_asks_for_a_listing() {
        let mut l = Lineage::new(Selection::All, Start::Latest);
        l.initial(vec![shard("a", &[], (0, u128::MAX), false)])
            .unwrap();
        assert!(!l.missing_children());
        l.drained("a");
        assert!(l.missing_children());
        l.discovered(vec![shard("b", &["a"], (0, u128::MAX), false)]);
        assert!(!l.missing_children());
    }
}
