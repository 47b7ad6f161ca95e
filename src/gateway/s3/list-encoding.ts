import { S3Error } from './errors.js';

/**
 * Encodes a listing field for `encoding-type=url`: UTF-8 percent-encoding with `/` kept. A space is
 * %20, never `+`: every client's decoder (form or path style) reads %20 as a space, while a `+`
 * comes back as a plus from decoders that follow RFC 3986, such as JavaScript's decodeURIComponent.
 */
export function urlEncodeListField(value: string): string {
  return encodeURIComponent(value).replace(/%2F/g, '/');
}

/**
 * The field encoder a listing's `encoding-type` asks for: `url` encodes (and the caller echoes
 * EncodingType), absent or empty leaves fields as they are (the XML renderer writes characters XML 1.0
 * cannot carry as references, as S3 does), anything else is InvalidArgument.
 */
export function listFieldEncoder(encodingType: string | undefined): (value: string) => string {
  if (encodingType === undefined || encodingType === '') return (value) => value;
  if (encodingType !== 'url') {
    throw new S3Error('InvalidArgument', { message: 'Invalid Encoding Method specified in Request', fields: { ArgumentName: 'encoding-type', ArgumentValue: encodingType } });
  }
  return urlEncodeListField;
}
