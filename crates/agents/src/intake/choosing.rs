//! The turns of the dialogue that let the citizen show or choose instead
//! of the agent guessing: a location pin for the place, a photo of the
//! problem, and a question between two categories the words fit about as
//! well.

use ombud_core::media::{MediaState, Refusal};
use ombud_core::*;

use super::state::{Draft, Step};
use super::{buttons, fill, words, Run};
use crate::AgentError;

impl Run<'_> {
    /// A location pin: the complaint's place. Before the problem is told,
    /// it is kept and the problem asked for; after, it is the location and
    /// the dialogue goes on from where it was.
    pub(super) async fn pinned(
        &mut self,
        message: &Message,
        lang: &Language,
    ) -> Result<String, AgentError> {
        let Some(shared) = message
            .payload
            .as_deref()
            .and_then(geo::SharedLocation::from_payload)
        else {
            return Ok(self.t(lang).non_text.clone());
        };
        let draft = self.state.draft.get_or_insert_with(Draft::default);
        draft.location = Some(shared.label());
        draft.point = shared.point();
        match self.state.step {
            Step::Idle => Ok(self.t(lang).ask_description.clone()),
            Step::AwaitCategory => self.ask_category(lang).await,
            Step::AwaitLocation | Step::AwaitConfirm => self.next_question(message, lang).await,
        }
    }

    /// A photo: kept for the complaint being described (or the next one),
    /// its caption read as if typed; a photo that could not be taken is
    /// asked for again.
    pub(super) async fn photo(
        &mut self,
        message: &Message,
        lang: &Language,
    ) -> Result<String, AgentError> {
        let ready = message
            .media
            .as_ref()
            .is_some_and(|m| m.state == MediaState::Ready);
        if !ready {
            return Ok(self.config.media_refused(lang));
        }
        let draft = self.state.draft.get_or_insert_with(Draft::default);
        if !draft.photos.contains(&message.id) {
            draft.photos.push(message.id.clone());
        }
        let ack = self.config.photo_received(lang);
        let caption = words::normalize(&message.body);
        let next = if !caption.trim().is_empty() {
            self.dialogue(message, &caption, lang).await?
        } else {
            match self.state.step {
                Step::Idle => self.t(lang).ask_description.clone(),
                Step::AwaitCategory => self.ask_category(lang).await?,
                Step::AwaitLocation | Step::AwaitConfirm => {
                    self.next_question(message, lang).await?
                }
            }
        };
        Ok(format!("{ack}\n\n{next}"))
    }

    /// A voice note without words to read: none heard, too long, not
    /// taken, or the transcriber down (then people listen to it).
    pub(super) fn unheard_voice(&mut self, message: &Message, lang: &Language) -> String {
        let Some(media) = &message.media else {
            return self.t(lang).non_text.clone();
        };
        match (media.state, media.refusal, media.transcript.as_deref()) {
            // Heard, but no words in it (silence, noise).
            (MediaState::Ready, _, Some(_)) => self.config.no_speech(lang),
            // This office transcribes nothing: typing is the way.
            (MediaState::Ready, _, None) => self.t(lang).non_text.clone(),
            (MediaState::Refused, Some(Refusal::TooLong | Refusal::TooLarge), _) => {
                self.config.voice_too_long(lang)
            }
            (MediaState::Unheard, _, _) => {
                self.handoff = true;
                self.config.voice_to_people(lang)
            }
            _ => self.config.media_refused(lang),
        }
    }

    /// Asks between two categories (numbered from 1 as in the whole list).
    pub(super) async fn ask_between(
        &mut self,
        first: usize,
        second: usize,
        lang: &Language,
    ) -> Result<String, AgentError> {
        let categories = self.categories().await?;
        let name = |n: usize| {
            categories
                .get(n - 1)
                .map_or_else(String::new, |c| c.name_in(lang).to_owned())
        };
        let (a, b) = (name(first), name(second));
        let options = format!("{first}. {a}\n{second}. {b}");
        self.choices = Some(buttons::between(categories, first, second, lang));
        Ok(fill(
            &self.config.ask_between(lang),
            &[("first", &a), ("second", &b), ("options", &options)],
        ))
    }
}
