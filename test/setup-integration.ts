// Integration tests start containers and wait for real drains: give them minutes, not seconds.
// (testTimeout in a jest project entry is ignored; it must be set from a setup file.)
jest.setTimeout(180_000);
