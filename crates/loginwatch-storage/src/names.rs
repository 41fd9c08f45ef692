//! [`Names`]: one shared copy of each name (cities, organisations) among the records that
//! carry it, instead of a copy per record.

use hashbrown::HashSet;
use std::sync::Arc;

/// The shared copies handed out so far; at most `max` of them, then it starts over.
#[derive(Debug)]
pub struct Names {
    held: HashSet<Arc<str>>,
    max: usize,
}

impl Default for Names {
    /// No bound (e.g. for one restore, bounded by what it reads).
    fn default() -> Self {
        Names::bounded(usize::MAX)
    }
}

impl Names {
    /// Holding at most `max` names (then forgetting them all and starting over).
    pub fn bounded(max: usize) -> Self {
        Names {
            held: HashSet::new(),
            max: max.max(1),
        }
    }

    /// The shared copy of `name`, made now if there is none.
    pub fn get(&mut self, name: &str) -> Arc<str> {
        match self.held.get(name) {
            Some(known) => Arc::clone(known),
            None => self.hold(Arc::from(name)),
        }
    }

    /// Replaces `name` by the shared copy of its text, or keeps it as that copy.
    pub fn share(&mut self, name: &mut Arc<str>) {
        match self.held.get(&**name) {
            Some(known) => *name = Arc::clone(known),
            None => {
                self.hold(Arc::clone(name));
            }
        }
    }

    /// How many names are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn hold(&mut self, name: Arc<str>) -> Arc<str> {
        if self.held.len() >= self.max {
            self.held.clear();
        }
        self.held.insert(Arc::clone(&name));
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_of_each_name_and_bounded() {
        let mut names = Names::bounded(2);
        let (a, b) = (names.get("Seoul"), names.get("Seoul"));
        assert!(Arc::ptr_eq(&a, &b));
        let mut own: Arc<str> = Arc::from("Seoul");
        names.share(&mut own);
        assert!(Arc::ptr_eq(&own, &a), "replaced by the shared copy");
        let mut lagos: Arc<str> = Arc::from("Lagos");
        names.share(&mut lagos);
        assert!(
            Arc::ptr_eq(&names.get("Lagos"), &lagos),
            "kept as the shared copy"
        );
        names.get("Paris");
        assert_eq!(names.len(), 1, "full: it started over");
    }
}
