export { TesseraError, hasCode } from './errors.js';
