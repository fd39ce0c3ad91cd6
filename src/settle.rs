//! Driving a request's answer with as little machinery as each request needs.
//!
//! The answer is polled at once: a request that waits on nothing is answered within the
//! fetch call. One that waits on a single JavaScript promise awaited through [`JsAwait`] (an
//! origin fetch) is resumed by that promise's own `then`, which polls the answer again and
//! resolves to what it returns: no task, waker, closure or microtask of the wasm-bindgen
//! task queue. Anything else (several promises at once, timers, the `worker` crate's own
//! futures) is handed to that queue.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use js_sys::Promise;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// A request's answer: the runtime's `Response`.
pub type Answer = Pin<Box<dyn Future<Output = JsValue>>>;

#[wasm_bindgen(module = "/js/settle.js")]
extern "C" {
    #[wasm_bindgen(js_name = resumeOn)]
    fn resume_on(promise: &Promise, id: u32, resume: &JsValue, forget: &JsValue) -> Promise;
}

/// A promise's outcome, once it has settled.
type Outcome = Option<Result<JsValue, JsValue>>;

/// A promise an answer waits on, and what it settled to.
struct Parked {
    promise: Promise,
    outcome: RefCell<Outcome>,
}

/// An answer waiting on one parked promise.
struct Suspended {
    answer: Answer,
    parked: Rc<Parked>,
}

thread_local! {
    /// Whether an answer is being polled by this module (rather than by the task queue).
    static DRIVING: Cell<bool> = const { Cell::new(false) };
    /// The promises parked by the poll in progress.
    static PARKED: RefCell<Vec<Rc<Parked>>> = const { RefCell::new(Vec::new()) };
    static SUSPENDED: RefCell<HashMap<u32, Suspended>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
    /// The function a parked promise calls when it settles (made once per isolate).
    static RESUME: Closure<dyn Fn(u32, JsValue, bool) -> JsValue> =
        Closure::new(|id: u32, value: JsValue, ok: bool| resume(id, if ok { Ok(value) } else { Err(value) }));
    /// The function that drops an answer whose promise was dropped unsettled.
    static FORGET: Closure<dyn Fn(u32)> = Closure::new(|id: u32| {
        let dropped = SUSPENDED.with(|s| s.borrow_mut().remove(&id));
        drop(dropped);
    });
}

fn resume(id: u32, outcome: Result<JsValue, JsValue>) -> JsValue {
    let Some(task) = SUSPENDED.with(|s| s.borrow_mut().remove(&id)) else { return JsValue::UNDEFINED };
    *task.parked.outcome.borrow_mut() = Some(outcome);
    settle(task.answer)
}

/// Polls `answer`: its value when ready, else a promise of it, resumed as the module's
/// introduction says.
pub fn settle(mut answer: Answer) -> JsValue {
    let relay = Arc::new(Relay::default());
    let poll = {
        let waker = Waker::from(relay.clone());
        DRIVING.with(|d| d.set(true));
        let poll = answer.as_mut().poll(&mut Context::from_waker(&waker));
        DRIVING.with(|d| d.set(false));
        poll
    };
    let mut parked = PARKED.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if let Poll::Ready(value) = poll {
        return value;
    }
    // Nothing kept the waker, and the answer waits on one promise: that promise resumes it.
    if Arc::strong_count(&relay) == 1 && parked.len() == 1 {
        if let Some(one) = parked.pop() {
            let id = NEXT_ID.with(|n| {
                let id = n.get();
                n.set(id.wrapping_add(1));
                id
            });
            let promise = one.promise.clone();
            SUSPENDED.with(|s| s.borrow_mut().insert(id, Suspended { answer, parked: one }));
            return RESUME.with(|r| FORGET.with(|f| resume_on(&promise, id, r.as_ref(), f.as_ref()))).into();
        }
    }
    // Otherwise the task queue drives it; each parked promise wakes it when it settles.
    for p in parked {
        let relay = relay.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = JsFuture::from(p.promise.clone()).await;
            *p.outcome.borrow_mut() = Some(outcome);
            relay.wake_by_ref();
        });
    }
    wasm_bindgen_futures::future_to_promise(Relayed { answer, relay }).into()
}

/// Awaits a JavaScript promise: parked for [`settle`] when it polls, else through a
/// `JsFuture`.
pub struct JsAwait(Awaiting);

enum Awaiting {
    Start(Promise),
    Parked(Rc<Parked>),
    Plain(JsFuture),
}

impl JsAwait {
    pub fn new(promise: Promise) -> Self {
        JsAwait(Awaiting::Start(promise))
    }
}

impl Future for JsAwait {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut self.get_mut().0;
        match this {
            Awaiting::Start(promise) => {
                if DRIVING.with(Cell::get) {
                    let parked = Rc::new(Parked { promise: promise.clone(), outcome: RefCell::new(None) });
                    PARKED.with(|p| p.borrow_mut().push(parked.clone()));
                    *this = Awaiting::Parked(parked);
                    Poll::Pending
                } else {
                    let mut plain = JsFuture::from(promise.clone());
                    let poll = Pin::new(&mut plain).poll(cx);
                    *this = Awaiting::Plain(plain);
                    poll
                }
            }
            Awaiting::Parked(parked) => match parked.outcome.borrow_mut().take() {
                Some(outcome) => Poll::Ready(outcome),
                None => Poll::Pending,
            },
            Awaiting::Plain(plain) => Pin::new(plain).poll(cx),
        }
    }
}

/// Forwards a wake to the waker of the latest poll.
#[derive(Default)]
struct Relay(Mutex<Option<Waker>>);

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let latest = self.0.lock().ok().and_then(|w| w.clone());
        if let Some(w) = latest {
            w.wake();
        }
    }
}

/// An answer the task queue polls. A future that kept the waker of an earlier poll (the
/// `worker` crate's `Delay` does) wakes it through the [`Relay`].
struct Relayed {
    answer: Answer,
    relay: Arc<Relay>,
}

impl Future for Relayed {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Ok(mut latest) = this.relay.0.lock() {
            if !latest.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *latest = Some(cx.waker().clone());
            }
        }
        this.answer.as_mut().poll(cx).map(Ok)
    }
}
