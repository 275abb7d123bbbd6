export * from './client-callbacks';
export * from './message';
export * from './inbound';
