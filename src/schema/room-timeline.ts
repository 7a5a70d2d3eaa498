/** The room timeline and state on Room: messages (cursor pagination), state, stateEvent, event. */
export {};
