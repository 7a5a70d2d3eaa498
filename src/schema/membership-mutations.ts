/** Placeholder: filled in by the mutations work (issue 4). */
export {};
