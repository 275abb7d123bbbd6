export * from './client-callbacks';
export * from './message';
