// The panel's `debounceInput` service, replaced: typed text is committed after 300 ms as before,
// but what is still pending can be flushed at once, so Validate, Deploy, Edit XML and Save as
// file never miss the last keystrokes.

const DELAY_MS = 300;

export default function debounceInput() {
  const pending = new Set();

  function debounce(fn) {
    let timer = null;
    let lastArgs = [];
    const flush = () => {
      if (timer === null) {
        return undefined;
      }
      clearTimeout(timer);
      timer = null;
      pending.delete(flush);
      return fn(...lastArgs);
    };
    const debounced = (...args) => {
      lastArgs = args;
      clearTimeout(timer);
      timer = setTimeout(flush, DELAY_MS);
      pending.add(flush);
    };
    debounced.flush = flush;
    debounced.cancel = () => {
      clearTimeout(timer);
      timer = null;
      pending.delete(flush);
    };
    return debounced;
  }

  debounce.flushAll = () => {
    [ ...pending ].forEach((flush) => flush());
  };
  return debounce;
}
