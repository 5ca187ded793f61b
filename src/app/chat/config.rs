//! The chat's vocabulary below every other file of it: its limits ([`ChatConfig`]) and the two
//! names it reserves ([`GENERAL`], [`SERVER_NAME`]).

/// The channel every client joins on connect and plain text goes to.
pub const GENERAL: &str = "general";

/// The name messages from [`Chat::publish`](super::Chat::publish) carry in `from`; no client
/// may take it.
pub const SERVER_NAME: &str = "server";

/// Rooms smaller than this get a `presence` line for every join and leave (the tutorials'
/// `새로운 유저 접속 [현재: N명]`); from this size on, joins and leaves are coalesced into one
/// `presence` `count` a second, so a reconnect storm of thousands costs the hub one fan-out a
/// second, not one per user. 100 keeps every line a person could read in a room.
pub const PRESENCE_LINES_BELOW: usize = 100;

/// The limits of the chat; each one is checked where input arrives and tested at its edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConfig {
    /// Messages kept per channel for replay (default 50); older ones are evicted and counted as
    /// `lost` by a `since` replay that needed them.
    pub history_limit: usize,
    /// Longest name, in characters after trimming (default 32); longer is `bad_name`.
    pub max_name_chars: usize,
    /// Longest message text, in bytes of UTF-8 (default 4096); longer is `text_too_long`.
    pub max_text_bytes: usize,
    /// Longest channel name, in characters (default 32); longer is `bad_channel`.
    pub max_channel_chars: usize,
    /// Channels one client may be subscribed to at once (default 32), `general` included;
    /// one more is `too_many_channels`.
    pub max_channels_per_client: usize,
    /// Channels the server holds in all (default 1000), `general` included; channels are never
    /// removed, so creating one more is `channel_limit`.
    pub max_channels: usize,
    /// Whether `POST /publish` to a channel that does not exist creates it (default off:
    /// the publish is refused as an unknown channel, 404, so a publisher cannot fill
    /// [`max_channels`](Self::max_channels)).
    pub publish_creates: bool,
    /// The most bytes of messages one replay carries (default 64 KiB, `--max-replay-bytes`):
    /// the newest that fit, the older left out and the reply marked `truncated`.
    pub max_replay_bytes: usize,
    /// Rooms of this many users or more get coalesced `count` updates instead of join and
    /// leave lines (default [`PRESENCE_LINES_BELOW`]).
    pub presence_lines_below: usize,
    /// This run of the server (the hub uses its start time in ms), sent in `welcome`.
    pub epoch: u64,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            history_limit: 50,
            max_name_chars: 32,
            max_text_bytes: 4096,
            max_channel_chars: 32,
            max_channels_per_client: 32,
            max_channels: 1000,
            publish_creates: false,
            presence_lines_below: PRESENCE_LINES_BELOW,
            max_replay_bytes: 64 * 1024,
            epoch: 0,
        }
    }
}
