//! Answers to the person who clicked a Slack button, through the interaction's `response_url`
//! (an ephemeral message only they see): Slack shows nothing of the HTTP answer to a block
//! action, so refusals, conflicts and confirmations go this way.

use std::time::Duration;

use serde_json::json;

/// Posts ephemeral replies to `response_url`s.
#[derive(Clone)]
pub struct SlackReplies {
    client: reqwest::Client,
}

impl SlackReplies {
    /// A sender whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(SlackReplies {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    /// Sends `text` to the clicker in the background; a failure is logged (the click itself
    /// has been answered already).
    pub fn reply(&self, response_url: Option<&str>, text: String) {
        let Some(url) = response_url.filter(|u| super::slack_text::is_web_url(u)) else {
            tracing::warn!(%text, "Slack interaction without a usable response_url; the clicker sees nothing");
            return;
        };
        let url = url.to_string();
        let client = self.client.clone();
        tokio::spawn(async move {
            let body =
                json!({"response_type": "ephemeral", "replace_original": false, "text": text});
            match client.post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(status = %r.status(), "Slack response_url refused the reply")
                }
                Err(e) => {
                    tracing::warn!(error = %super::redact::transport(e), "Slack response_url not reached")
                }
            }
        });
    }
}
