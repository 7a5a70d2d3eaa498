/** Room events: the RoomEvent and StateEvent interfaces and their typed implementations. */
export {};
