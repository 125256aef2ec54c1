/**
 * Template errors worded and positioned as Go's text/template words them, so what a Docker user
 * searches for matches: parse errors name the line (`template: :1: unexpected EOF`), execution
 * errors the line, the column and the failing node (`template: :1:2: executing "" at <.Foo>: ...`).
 */
import { NsnetError } from '../../core/errors.js';

function lineOf(src: string, pos: number): number {
  return src.slice(0, pos).split('\n').length;
}

/** Go's column: the byte offset from the start of the line, counted from 0. */
function columnOf(src: string, pos: number): number {
  const before = src.slice(0, pos);
  return Buffer.byteLength(before.slice(before.lastIndexOf('\n') + 1));
}

export class TemplateError extends NsnetError {
  static parse(src: string, pos: number, message: string): TemplateError {
    return new TemplateError('USAGE', `template: :${lineOf(src, pos)}: ${message}`);
  }

  static exec(src: string, pos: number, nodeText: string, message: string): TemplateError {
    return new TemplateError('INVALID_VALUE', `template: :${lineOf(src, pos)}:${columnOf(src, pos)}: executing "" at <${nodeText}>: ${message}`);
  }
}
