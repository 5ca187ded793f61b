//! The chat's vocabulary below every other file of it: its limits ([`ChatConfig`]) and the two
//! names it reserves ([`GENERAL`], [`SERVER_NAME`]).

/// The channel every client joins on connect and plain text goes to.
pub const GENERAL: &str = "general";

/// The name messages from [`Chat::publish`](super::Chat::publish) carry in `from`; no client
/// may take it.
pub const SERVER_NAME: &str = "server";

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
            max_replay_bytes: 64 * 1024,
            epoch: 0,
        }
    }
}
