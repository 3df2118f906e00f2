//! The local backend of [`Decode`]: one Whisper model, shared in priority order between every
//! live consultation, and a budget of cores (`[asr] threads`) that the passes running at once
//! never exceed.
//! whisper.cpp's threads spin while they wait for each other, so two passes wanting the same
//! core slow each other badly; passes that each have their own cores do not.
//!
//! Four kinds of work compete. Text the doctor is waiting to see ([`Priority::Now`]) goes first;
//! the window passes a consultation that has hung up still waits for ([`Priority::Final`]: its
//! draft waits for them; a track raises its queued passes to it at hang-up) next; the window passes that make the kept transcript during the call
//! ([`Priority::Later`]) after; guesses made while cores would otherwise be idle
//! ([`Priority::Spare`]: interim passes over ongoing speech, early passes over a window that may
//! still grow) last. A pass that has started runs to its end: whisper.cpp's encoder step, the
//! bulk of a pass, cannot be interrupted, so cancelling a pass would throw its work away.
//!
//! A window pass costs seconds, an utterance pass a fraction of one. So that shown text never
//! waits behind a window pass, window passes together hold at most all cores but one, and while
//! anyone speaks each runs on one core; an utterance pass takes every free core when no window
//! pass is waiting for one. When nobody speaks on any call (tracks say so with
//! [`Decode::speech_began`]), and for a consultation's final passes, which its draft waits for, a
//! window pass takes every free core, and final passes may take any core.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::decode::{Answer, Decode, Decoded, Priority, Urgency};

const PRIORITIES: usize = Priority::ALL.len();

struct Job {
    samples: Vec<f32>,
    pass: asr::Pass,
    /// The queue it waits in; `urgency` may since have risen above it.
    priority: Priority,
    urgency: Urgency,
    reply: oneshot::Sender<Answer>,
}

/// A job given cores to run on.
struct Started {
    job: Job,
    cores: usize,
}

struct Queue {
    /// Waiting jobs, one queue per priority, in [`Priority`] order.
    waiting: [VecDeque<Job>; PRIORITIES],
    cores: usize,
    /// Cores held by the passes running now.
    cores_busy: usize,
    windows_running: usize,
    /// Tracks in the middle of speech, on every call.
    speaking: usize,
    closed: bool,
}

impl Queue {
    fn new(cores: usize) -> Queue {
        Queue { waiting: Default::default(), cores, cores_busy: 0, windows_running: 0, speaking: 0, closed: false }
    }

    fn free(&self) -> usize {
        self.cores - self.cores_busy
    }

    /// Window passes running at once: all cores but one, so an utterance pass always finds one.
    fn window_slots(&self) -> usize {
        self.cores.saturating_sub(1).max(1)
    }

    fn may_start(&self, pass: asr::Pass, priority: Priority) -> bool {
        self.free() > 0
            && (pass == asr::Pass::Utterance
                || priority == Priority::Final
                || self.windows_running < self.window_slots())
    }

    fn waiting(&self) -> impl Iterator<Item = &Job> {
        self.waiting.iter().flatten()
    }

    /// Moves each job whose urgency has risen to the back of its new priority's queue.
    fn refile(&mut self) {
        for filed in 1..PRIORITIES {
            let mut i = 0;
            while i < self.waiting[filed].len() {
                let now = self.waiting[filed][i].urgency.get();
                if (now as usize) < filed {
                    let mut job = self.waiting[filed].remove(i).expect("i is in range");
                    job.priority = now;
                    self.waiting[now as usize].push_back(job);
                } else {
                    i += 1;
                }
            }
        }
    }

    /// The first waiting job in priority order that may start now, with the cores it gets;
    /// jobs whose caller gave up (an early pass over a window that has grown since) are dropped.
    fn start_next(&mut self) -> Option<Started> {
        self.refile();
        for queue in &mut self.waiting {
            queue.retain(|job| !job.reply.is_closed());
        }
        let (priority, position) = (0..PRIORITIES).find_map(|p| {
            self.waiting[p].iter().position(|job| self.may_start(job.pass, job.priority)).map(|i| (p, i))
        })?;
        let job = self.waiting[priority].remove(position).expect("found above");
        let utterance_waits = self.waiting().any(|j| j.pass == asr::Pass::Utterance);
        let window_waits = self.waiting().any(|j| j.pass == asr::Pass::Window && self.may_start(j.pass, j.priority));
        let every_free_core = match (job.pass, job.priority) {
            (asr::Pass::Utterance, _) => !window_waits && !utterance_waits,
            (asr::Pass::Window, Priority::Final) => !utterance_waits,
            (asr::Pass::Window, _) => !utterance_waits && self.speaking == 0,
        };
        let cores = if every_free_core { self.free() } else { 1 };
        self.cores_busy += cores;
        if job.pass == asr::Pass::Window {
            self.windows_running += 1;
        }
        Some(Started { job, cores })
    }

    fn finished(&mut self, pass: asr::Pass, cores: usize) {
        self.cores_busy -= cores;
        if pass == asr::Pass::Window {
            self.windows_running -= 1;
        }
    }
}

struct Shared {
    queue: Mutex<Queue>,
    /// Rung when a job arrives, a waiting job's urgency rises, a pass ends or the workers are to
    /// stop.
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next job to run, once one may start; `None` once closed.
    fn take(&self) -> Option<Started> {
        let mut queue = self.lock();
        loop {
            if queue.closed {
                return None;
            }
            if let Some(started) = queue.start_next() {
                return Some(started);
            }
            queue = self.wake.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Ends the workers when the backend is dropped.
pub struct LocalDecoder {
    shared: Arc<Shared>,
}

impl Drop for LocalDecoder {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

impl LocalDecoder {
    /// Starts one worker thread per core of the recognizer's budget; they end when the backend
    /// is dropped.
    pub fn start(recognizer: asr::Recognizer) -> LocalDecoder {
        let budget = recognizer.threads();
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::new(budget)), wake: Condvar::new() });
        let recognizer = Arc::new(recognizer);
        for n in 0..budget {
            let (worker, recognizer) = (shared.clone(), recognizer.clone());
            std::thread::Builder::new()
                .name(format!("whisper-{n}"))
                .spawn(move || {
                    while let Some(Started { job, cores }) = worker.take() {
                        let began = Instant::now();
                        let result = recognizer.recognize_on(&job.samples, job.pass, cores);
                        let seconds = began.elapsed().as_secs_f64();
                        worker.lock().finished(job.pass, cores);
                        worker.wake.notify_all();
                        tracing::debug!(pass = ?job.pass, priority = ?job.priority, cores, seconds, ok = result.is_ok(), "whisper pass");
                        // The share of the whole budget the pass held, so that the real-time
                        // factor stays below 1 exactly while the decoder keeps up.
                        let busy_seconds = seconds * cores as f64 / budget as f64;
                        let answer = result
                            .map(|recognized| Decoded { recognized, busy_seconds })
                            .map_err(|e| e.to_string());
                        // The track may have gone away meanwhile; its result is then of no use.
                        let _ = job.reply.send(answer);
                    }
                })
                .expect("the OS starts a thread");
        }
        LocalDecoder { shared }
    }
}

impl Decode for LocalDecoder {
    fn submit(&self, samples: Vec<f32>, pass: asr::Pass, urgency: Urgency) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        let priority = urgency.get();
        self.shared.lock().waiting[priority as usize].push_back(Job { samples, pass, priority, urgency, reply });
        self.shared.wake.notify_all();
        answer
    }

    /// A raised pass may start where it could not before (a final pass needs no window slot).
    fn urgency_raised(&self) {
        // Through the lock: a worker that read the old urgency is then either still before its
        // look at the queue (and sees the new one) or already waiting (and is woken).
        drop(self.shared.lock());
        self.shared.wake.notify_all();
    }

    /// Cores are free for the guess and no waiting job could use them.
    fn idle_for(&self, pass: asr::Pass) -> bool {
        let mut queue = self.shared.lock();
        queue.refile();
        queue.may_start(pass, Priority::Spare)
            && !queue.waiting().any(|job| job.pass == pass || queue.may_start(job.pass, job.priority))
    }

    /// Window passes then leave a core free for the text that speech will need.
    fn speech_began(&self) {
        self.shared.lock().speaking += 1;
    }

    fn speech_ended(&self) {
        self.shared.lock().speaking -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asr::Pass::{Utterance, Window};

    fn queue(cores: usize, jobs: &[(asr::Pass, Priority)]) -> (Queue, Vec<oneshot::Receiver<Answer>>) {
        let mut queue = Queue::new(cores);
        let mut answers = Vec::new();
        for &(pass, priority) in jobs {
            let (reply, answer) = oneshot::channel();
            let urgency = Urgency::new(priority);
            queue.waiting[priority as usize].push_back(Job { samples: Vec::new(), pass, priority, urgency, reply });
            answers.push(answer);
        }
        (queue, answers)
    }

    fn started(queue: &mut Queue) -> Option<(asr::Pass, Priority, usize)> {
        queue.start_next().map(|s| (s.job.pass, s.job.priority, s.cores))
    }

    #[test]
    fn shown_text_always_finds_a_core_beside_the_window_passes() {
        let (mut q, _answers) =
            queue(2, &[(Window, Priority::Later), (Window, Priority::Later), (Utterance, Priority::Now)]);
        assert_eq!(started(&mut q), Some((Utterance, Priority::Now, 1)), "one core, a window pass waits for the other");
        assert_eq!(started(&mut q), Some((Window, Priority::Later, 1)));
        assert_eq!(started(&mut q), None, "both cores busy");
        q.finished(Utterance, 1);
        assert_eq!(started(&mut q), None, "the second window pass waits: one core stays for shown text");
        assert!(q.may_start(Utterance, Priority::Spare));
    }

    #[test]
    fn an_utterance_pass_alone_takes_every_core_and_a_final_pass_too() {
        let (mut q, _answers) = queue(2, &[(Utterance, Priority::Now)]);
        assert_eq!(started(&mut q), Some((Utterance, Priority::Now, 2)));
        let (mut q, _answers) = queue(2, &[(Window, Priority::Final), (Window, Priority::Later)]);
        assert_eq!(started(&mut q), Some((Window, Priority::Final, 2)));
        let (mut q, _answers) = queue(2, &[(Window, Priority::Later)]);
        q.speaking = 1;
        assert_eq!(started(&mut q), Some((Window, Priority::Later, 1)), "while someone speaks, one core");
        let (mut q, _answers) = queue(2, &[(Window, Priority::Spare)]);
        assert_eq!(started(&mut q), Some((Window, Priority::Spare, 2)), "while nobody speaks, every core");
    }

    #[test]
    fn a_pass_raised_to_final_no_longer_waits_for_the_window_slot() {
        let (mut q, _answers) = queue(2, &[(Window, Priority::Later), (Window, Priority::Later)]);
        q.speaking = 1;
        assert_eq!(started(&mut q), Some((Window, Priority::Later, 1)));
        assert_eq!(started(&mut q), None, "one window pass at a time during the call");
        // The consultation hangs up: its waiting window pass becomes final.
        assert!(q.waiting[Priority::Later as usize][0].urgency.raise(Priority::Final));
        assert_eq!(started(&mut q), Some((Window, Priority::Final, 1)), "a hang-up's pass takes the core left");
    }

    #[test]
    fn neighbours_raised_together_keep_their_order_and_a_raise_may_skip_a_level() {
        let (mut q, _answers) =
            queue(1, &[(Window, Priority::Spare), (Window, Priority::Spare), (Window, Priority::Spare)]);
        let spare = Priority::Spare as usize;
        // Told apart by their length.
        for (n, job) in q.waiting[spare].iter_mut().enumerate() {
            job.samples = vec![0.0; n];
        }
        let (first, second) = (q.waiting[spare][0].urgency.clone(), q.waiting[spare][1].urgency.clone());
        assert!(second.raise(Priority::Final) && first.raise(Priority::Final), "spare straight to final");
        q.refile();
        let finals: Vec<_> = q.waiting[Priority::Final as usize].iter().map(|j| j.samples.len()).collect();
        assert_eq!(finals, [0, 1], "raised together, in the order they came");
        assert_eq!(q.waiting[spare].len(), 1, "the one not raised stays a guess");
    }

    #[test]
    fn a_raised_pass_goes_before_the_passes_of_its_old_priority() {
        let (mut q, _answers) =
            queue(1, &[(Window, Priority::Spare), (Window, Priority::Later), (Window, Priority::Spare)]);
        assert!(q.waiting[Priority::Spare as usize][1].urgency.raise(Priority::Later));
        assert!(!q.waiting[Priority::Spare as usize][1].urgency.raise(Priority::Spare), "never lowered");
        assert_eq!(started(&mut q), Some((Window, Priority::Later, 1)));
        q.finished(Window, 1);
        assert_eq!(
            started(&mut q),
            Some((Window, Priority::Later, 1)),
            "the raised early pass, before the other guess"
        );
        q.finished(Window, 1);
        assert_eq!(started(&mut q), Some((Window, Priority::Spare, 1)));
    }

    #[test]
    fn one_core_runs_one_pass_at_a_time_in_priority_order() {
        let (mut q, _answers) =
            queue(1, &[(Window, Priority::Spare), (Window, Priority::Later), (Utterance, Priority::Now)]);
        assert_eq!(started(&mut q), Some((Utterance, Priority::Now, 1)));
        assert_eq!(started(&mut q), None);
        q.finished(Utterance, 1);
        assert_eq!(started(&mut q), Some((Window, Priority::Later, 1)));
    }

    #[test]
    fn a_job_nobody_waits_for_is_dropped_unrun() {
        let (mut q, mut answers) = queue(2, &[(Window, Priority::Spare), (Window, Priority::Later)]);
        answers.remove(0);
        assert_eq!(started(&mut q), Some((Window, Priority::Later, 2)));
        assert!(q.waiting().next().is_none());
    }
}
