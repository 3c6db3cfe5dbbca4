//! The standing claim. The host asks once ("up to `limit` tasks of these lines"); the
//! writer answers with what it found, or parks the request and answers as soon as
//! something turns up. An empty request withdraws it, and is answered too.

use crate::store::protocol::{Adopted, Reply, Want};

#[derive(Debug, Default)]
pub struct ParkedClaim {
    wants: Vec<Want>,
    limit: u32,
}

impl ParkedClaim {
    pub fn is_empty(&self) -> bool {
        self.wants.is_empty()
    }

    /// The host will ask again (its claims were recalled, or it is closing).
    pub fn clear(&mut self) {
        self.wants.clear();
    }

    /// Keeps `request` standing without answering it (its round failed).
    pub fn keep(&mut self, request: (Vec<Want>, u32)) {
        (self.wants, self.limit) = request;
    }

    /// What this round claims for: the batch's new request, or the standing one.
    pub fn current(&self, request: &Option<(Vec<Want>, u32)>) -> (Vec<Want>, u32) {
        request
            .clone()
            .unwrap_or_else(|| (self.wants.clone(), self.limit))
    }

    /// After a round that claimed for `claimed_for` and found `adopted`: a request that
    /// found nothing stands (parked); one that found something is answered and ends.
    /// Pushes the answer, if any, to `replies`.
    pub fn answered(
        &mut self,
        request: Option<(Vec<Want>, u32)>,
        claimed_for: (Vec<Want>, u32),
        adopted: Vec<Adopted>,
        replies: &mut Vec<Reply>,
    ) {
        let withdraws = request.as_ref().is_some_and(|(w, _)| w.is_empty());
        if request.is_some() || !adopted.is_empty() {
            let (wants, limit) = claimed_for;
            self.wants = if adopted.is_empty() { wants } else { Vec::new() };
            self.limit = limit;
        }
        if !adopted.is_empty() {
            replies.push(Reply::Adopted(adopted));
        } else if withdraws {
            replies.push(Reply::Adopted(Vec::new())); // a withdrawal is answered too
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> Want {
        Want {
            def: 0,
            name: "t".into(),
            queue: "default".into(),
            max: 4,
            max_parallel: None,
            rate: None,
        }
    }

    #[test]
    fn a_request_that_finds_nothing_stands_and_one_that_finds_something_ends() {
        let mut p = ParkedClaim::default();
        let request = Some((vec![want()], 4));
        let mut replies = Vec::new();
        p.answered(request.clone(), p.current(&request), Vec::new(), &mut replies);
        assert!(replies.is_empty(), "nothing found: no answer yet");
        assert!(!p.is_empty(), "parked");
        assert_eq!(p.current(&None).1, 4);
        let found = Adopted {
            def: 0,
            seq: 1,
            id: uuid::Uuid::from_u128(1),
            priority: 0,
            attempt: 1,
            payload: "null".into(),
            created_at: 0,
            run_at: None,
            key: None,
            error: None,
            cancel_requested: false,
            trace: None,
        };
        p.answered(None, p.current(&None), vec![found], &mut replies);
        assert!(matches!(&replies[..], [Reply::Adopted(rows)] if rows.len() == 1));
        assert!(p.is_empty(), "answered: the request ends");
    }

    #[test]
    fn a_withdrawal_is_answered_with_nothing() {
        let mut p = ParkedClaim::default();
        p.keep((vec![want()], 2));
        let request = Some((Vec::new(), 0));
        let mut replies = Vec::new();
        p.answered(request.clone(), p.current(&request), Vec::new(), &mut replies);
        assert!(matches!(&replies[..], [Reply::Adopted(rows)] if rows.is_empty()));
        assert!(p.is_empty());
    }
}
